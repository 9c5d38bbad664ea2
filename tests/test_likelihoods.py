"""Decoder likelihoods against independent references (scipy.stats, closed forms)."""

import numpy as np
import pytest
from scipy import stats

from keras_vae.likelihoods import (
    LIKELIHOODS,
    Bernoulli,
    ContinuousBernoulli,
    DiscretizedLogistic,
    HeteroscedasticGaussian,
    get_likelihood,
    log_densities_with_xla,
    log_prob_function,
)
from tests.helpers import assert_config_round_trip

RNG = np.random.default_rng(0)


def _log_normaliser(lam):
    """log C(lam), C(lam) = 2 atanh(1 - 2 lam) / (1 - 2 lam), in float64 with the series near 1/2."""
    lam = np.asarray(lam, np.float64)
    t = 1.0 - 2.0 * lam
    small = np.abs(t) < 1e-3
    safe = np.where(small, 0.5, t)
    exact = np.log(2.0 * np.arctanh(safe) / safe)
    series = np.log(2.0) + np.log1p(t**2 / 3.0 + t**4 / 5.0)  # atanh(t)/t = 1 + t^2/3 + t^4/5 + ...
    return np.where(small, series, exact)


def test_bernoulli_matches_scipy():
    logits = RNG.normal(size=(3, 5)).astype("float32")
    x = (RNG.uniform(size=(3, 5)) > 0.5).astype("float32")
    got = Bernoulli().distribution(logits, event_ndims=1).log_prob(x)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    expected = stats.bernoulli(p).logpmf(x).sum(-1)
    np.testing.assert_allclose(np.asarray(got), expected, atol=1e-5)  # float32 log-sigmoid


def test_fused_bernoulli_log_density_equals_tfp_and_float64_reference():
    # Logits up to |l| = 30 (saturated pixels), binary and grey x, a sample axis broadcast over x.
    logits = (RNG.normal(size=(2, 3, 4, 4, 1)) * 10).astype("float32")
    logits[0, 0, 0, 0, 0], logits[1, 2, 3, 3, 0] = 30.0, -30.0
    x = np.concatenate([(RNG.uniform(size=(2, 4, 4, 1)) > 0.5), RNG.uniform(size=(1, 4, 4, 1))]).astype("float32")
    likelihood = Bernoulli()
    fused = np.asarray(likelihood.log_prob(logits, x, event_ndims=3))
    tfp_value = np.asarray(likelihood.distribution(logits, event_ndims=3).log_prob(x))
    l64, x64 = logits.astype(np.float64), x.astype(np.float64)
    reference = (x64 * l64 - np.logaddexp(0.0, l64)).sum(axis=(-3, -2, -1))  # x l - softplus(l), float64
    assert fused.shape == tfp_value.shape == (2, 3)
    np.testing.assert_allclose(fused, tfp_value, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(fused, reference, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
def test_log_density_compiled_with_xla_equals_the_plain_one(name):
    # What importance-sampled evaluation runs (keras_vae.evaluation enters the context): a sample
    # axis of decoder outputs against a batch of 8-bit grey images, which every likelihood supports.
    likelihood = get_likelihood(name)
    x = (RNG.integers(0, 256, size=(3, 4, 4, 1)) / 255).astype("float32")
    parameters = RNG.normal(size=(2, 3, 4, 4, likelihood.parameter_channels(1))).astype("float32")
    assert log_prob_function(likelihood) == likelihood.log_prob
    with log_densities_with_xla():
        compiled = log_prob_function(likelihood)
    assert compiled != likelihood.log_prob and log_prob_function(likelihood) == likelihood.log_prob  # context left
    plain = np.asarray(likelihood.log_prob(parameters, x, event_ndims=3))
    assert plain.shape == (2, 3) and np.all(np.isfinite(plain))
    # float32 rounding of sums over 16 values of up to about 10 nats each (XLA's own exp and log).
    np.testing.assert_allclose(np.asarray(compiled(parameters, x, event_ndims=3)), plain, rtol=1e-5, atol=1e-4)


def test_conv_trains_without_xla_on_a_cpu_and_mlp_with_it():
    from keras_vae.settings import TrainSettings
    from keras_vae.training import uses_xla

    assert uses_xla(TrainSettings()) is True
    assert uses_xla(TrainSettings(jit_compile=False)) is False
    assert uses_xla(TrainSettings(architecture="conv")) is False  # the suite's machines have no GPU


def test_continuous_bernoulli_normaliser_value_at_one_half():
    np.testing.assert_allclose(np.exp(_log_normaliser(0.5)), 2.0)
    # The series and the closed form agree where both are accurate.
    np.testing.assert_allclose(_log_normaliser(0.5 + 2e-3 - 1e-12), _log_normaliser(0.5 + 2e-3), atol=1e-9)


@pytest.mark.parametrize("lam", [0.5, 0.5 + 1e-4, 0.5 - 1e-4, 0.5 + 1e-6, 0.5 - 1e-6, 0.1, 0.9, 0.01, 0.999])
def test_continuous_bernoulli_log_prob_matches_closed_form(lam):
    x = np.array([[0.0, 0.2, 0.5, 0.77, 1.0]], "float32")
    logit = np.log(lam / (1 - lam))
    params = np.full(x.shape, logit, "float32")
    got = np.asarray(ContinuousBernoulli().distribution(params, event_ndims=1).log_prob(x))
    lam32 = 1 / (1 + np.exp(-np.float64(np.float32(logit))))  # the lambda the float32 logit encodes
    expected = (x * np.log(lam32) + (1 - x) * np.log1p(-lam32) + _log_normaliser(lam32)).sum(-1)
    # float32 arithmetic on 5 values of order 1: 1e-4 absolute (near 1/2 tfp uses its Taylor branch).
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_continuous_bernoulli_integrates_to_one_and_mean_is_the_distribution_mean():
    grid = (np.arange(20000) + 0.5) / 20000  # midpoint rule on [0, 1]
    for logit in (-3.0, -0.2, 0.0, 1e-5, 2.5):
        params = np.full((1, grid.size), logit, "float32")
        d = ContinuousBernoulli().distribution(params, event_ndims=0)
        density = np.exp(np.asarray(d.log_prob(grid[None].astype("float32")), np.float64))[0]
        np.testing.assert_allclose(density.mean(), 1.0, atol=1e-4)  # midpoint rule, float32 density
        mean = float(ContinuousBernoulli().mean(np.full((1, 1), logit, "float32"))[0, 0])
        np.testing.assert_allclose(mean, (grid * density).mean(), atol=1e-4)


def test_heteroscedastic_gaussian_matches_scipy():
    loc = RNG.normal(size=(2, 4, 4, 3)).astype("float32")
    raw = RNG.normal(size=(2, 4, 4, 3)).astype("float32")
    x = RNG.normal(size=(2, 4, 4, 3)).astype("float32")
    likelihood = HeteroscedasticGaussian(min_scale=1e-3)
    params = np.concatenate([loc, raw], axis=-1)
    assert likelihood.parameter_channels(3) == 6
    got = likelihood.distribution(params, event_ndims=3).log_prob(x)
    scale = np.log1p(np.exp(raw.astype(np.float64))) + 1e-3
    expected = stats.norm(loc, scale).logpdf(x).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-4)  # float32, 48 terms
    np.testing.assert_allclose(np.asarray(likelihood.mean(params)), loc)


def _reference_discretized_logistic(x, loc, log_scale):
    """Float64 probabilities from scipy's logistic CDF; edge bins to -inf / +inf."""
    s = np.exp(log_scale)
    cdf_hi = stats.logistic.cdf(x + 0.5 / 255, loc, s)
    cdf_lo = stats.logistic.cdf(x - 0.5 / 255, loc, s)
    p = np.where(x <= 0, cdf_hi, np.where(x >= 1, 1 - cdf_lo, cdf_hi - cdf_lo))
    return p


@pytest.mark.parametrize("loc, log_scale", [(0.5, -3.0), (0.02, -5.0), (0.97, -4.0), (-0.3, -2.0), (1.4, -6.0), (0.3, -7.0)])
def test_discretized_logistic_probabilities_sum_to_one_and_match_scipy(loc, log_scale):
    grid = np.arange(256) / 255
    params = np.stack([np.full(256, loc), np.full(256, log_scale)], -1).astype("float32")
    log_p = np.asarray(DiscretizedLogistic().distribution(params, event_ndims=0).log_prob(grid[:, None].astype("float32")))[:, 0]
    p = np.exp(log_p.astype(np.float64))
    np.testing.assert_allclose(p.sum(), 1.0, atol=1e-4)  # 256 float32 probabilities
    expected = _reference_discretized_logistic(grid, loc, log_scale)
    big = expected > 1e-6  # compare logs where the reference itself is accurate
    np.testing.assert_allclose(log_p[big], np.log(expected[big]), atol=2e-3)  # float32 bin edges
    mean = float(DiscretizedLogistic().mean(np.array([[loc, log_scale]], "float32"))[0, 0])
    np.testing.assert_allclose(mean, (grid * expected).sum(), atol=1e-4)


def test_discretized_logistic_tails_are_finite():
    params = np.array([[0.0, -7.0], [1.0, -7.0]], "float32")
    x = np.array([[1.0], [0.0]], "float32")  # far from the location, tiny scale
    log_p = np.asarray(DiscretizedLogistic().distribution(params, event_ndims=1).log_prob(x))
    assert np.all(np.isfinite(log_p)) and np.all(log_p < -100)


def test_sampled_discretized_values_lie_on_the_grid():
    d = DiscretizedLogistic().distribution(np.array([[0.4, -3.0]], "float32"), event_ndims=1)
    x = np.asarray(d.sample(500, seed=1))
    np.testing.assert_allclose(x * 255, np.round(x * 255), atol=1e-3)
    assert 0 <= x.min() and x.max() <= 1
    np.testing.assert_allclose(x.mean(), 0.4, atol=0.01)  # logistic sd 0.09 / sqrt(500) = 0.004


@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
def test_every_likelihood_round_trips_its_config(name):
    likelihood = get_likelihood(name)
    rebuilt = assert_config_round_trip(likelihood)
    assert type(rebuilt) is type(likelihood)


def test_odd_parameter_channels_fail_clearly():
    with pytest.raises(ValueError, match="even number"):
        DiscretizedLogistic().mean(np.zeros((1, 3), "float32"))


@pytest.mark.slow(reason="trains models for several epochs")
@pytest.mark.parametrize("name", ["continuous_bernoulli", "heteroscedastic_gaussian", "discretized_logistic"])
def test_vae_with_each_new_likelihood_trains_and_round_trips(name, tmp_path):
    import keras

    from keras_vae.models import build_vae
    from tests.helpers import assert_vae_round_trip, random_images

    shape = (8, 8, 1)
    x = np.round(random_images(32, shape) * 255) / 255  # 8-bit grey levels, in every likelihood's support
    model = build_vae(shape, latent_dim=3, likelihood=name, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
    history = model.fit(x, epochs=2, batch_size=16, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    decoded = np.asarray(model.decode(np.zeros((2, 3), "float32")))
    assert decoded.shape == (2,) + shape
    restored = assert_vae_round_trip(model, x[:4], tmp_path)
    assert type(restored.likelihood) is type(model.likelihood)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"likelihood": "discretized_logistic", "binarize": "dynamic"}, "discretized logistic"),
        ({"likelihood": "continuous_bernoulli", "binarize": "static"}, "binarize='none'"),
        ({"prior": "vampire"}, r"\['mixture', 'standard_normal', 'vamp'\]"),
        ({"posterior": "planar", "binarize": "none"}, r"\['diagonal', 'full_covariance', 'iaf'\]"),
        ({"prior": "mixture", "free_bits": 0.5}, "free_bits"),
    ],
)
def test_bad_combinations_fail_before_training(options, match):
    from keras_vae.settings import TrainSettings

    with pytest.raises(ValueError, match=match):
        TrainSettings(**options).check()


def test_train_command_takes_the_new_choices():
    from keras_vae.cli import build_parser
    from keras_vae.commands.train import settings_from_args

    args = build_parser().parse_args(
        ["train", "--likelihood", "discretized_logistic", "--prior", "vamp", "--posterior", "iaf"]
    )
    settings = settings_from_args(args)
    assert (settings.likelihood, settings.prior, settings.posterior, settings.binarize) == (
        "discretized_logistic", "vamp", "iaf", "none"
    )
    settings.check()
