"""Likelihood evaluation of trained VAEs: importance sampling, active units, split summaries.

The marginal likelihood is estimated by importance sampling with the encoder's
posterior as proposal (Burda et al. 2016, "IS-K"):

    log p(x) ~= log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x),    z_k ~ q(z|x),

which is the IWAE bound L_K: a lower bound in expectation that rises towards
log p(x) as K grows, and equals it for every K when q(z|x) is the exact posterior.

The K samples are processed in chunks of `chunk_size`, with a running logsumexp,
so memory is bounded by (chunk_size * batch_size) decoder outputs whatever K is.
Each chunk decodes all its chunk_size * batch_size latents in one decoder call.

The noise is counter-based and stateless: eps[i, k, d] is a hash of (seed, global
example index i (its position in `images`), sample index k, latent dimension d).
The estimates are therefore the same whatever `batch_size` and `chunk_size`, and
the same seed gives the same numbers on every run.
"""

import math
import os
import time

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from keras_vae import atomic, objectives
from keras_vae.data.sprites import is_sprites
from keras_vae.likelihoods import log_densities_with_xla
from keras_vae.models.capabilities import BOUND, CLASSIFY, EXACT
from keras_vae.runs import EVALUATION_FILE, MODEL_FILE, Run, RunError, load_splits, model_inputs

tfd = tfp.distributions

# Decoder outputs held at once per chunk (chunk_size * batch_size latents) when
# chunk_size is not given: about 2.5e4 * data size floats (78 MB for 28x28x1).
_LATENTS_PER_CHUNK = 25000

_M1 = 0x7FEB352D
_M2 = 0x846CA68B
_GOLDEN = 0x9E3779B9


def _hash32(x):
    """lowbias32 (C. Wellons): a fast, well-mixed 32-bit integer hash on uint32 tensors."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))
    x = x * tf.constant(_M1, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(15, tf.uint32)))
    x = x * tf.constant(_M2, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))


def _uniform_open(bits, dtype):
    """Maps uint32 bits to floats in the open interval (0, 1) using the top 24 bits."""
    top = tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32)), dtype)
    return (top + 0.5) * (2.0**-24)


def counter_normal(seed, example_index, sample_index, latent_dim, dtype="float32"):
    """Standard normal noise eps[k, i, d] as a pure function of (seed, i, k, d).

    Args:
        seed: int or int tensor. Stream seed.
        example_index: int tensor (batch,), global example indices i.
        sample_index: int tensor (num,), sample indices k.
        latent_dim: int.
        dtype: float dtype of the result.

    Returns:
        Tensor (num, batch, latent_dim) of N(0, 1) draws (Box-Muller on hashed counters).

    Example:
    >>> eps = counter_normal(0, tf.range(3), tf.range(5), 2)
    >>> tuple(eps.shape)
    (5, 3, 2)
    >>> bool(tf.reduce_all(counter_normal(0, tf.range(1, 3), tf.range(2, 5), 2) == eps[2:, 1:]))
    True
    """
    seed_bits = _hash32(tf.cast(seed, tf.uint32) ^ tf.constant(_GOLDEN, tf.uint32))
    example_bits = _hash32(tf.cast(example_index, tf.uint32) ^ seed_bits)  # (batch,)
    # Counter within an example: (k * latent_dim + d), two words per normal draw.
    k = tf.cast(sample_index, tf.uint32)[:, None, None]
    d = tf.cast(tf.range(latent_dim), tf.uint32)[None, None, :]
    counter = (k * tf.constant(latent_dim, tf.uint32) + d) * tf.constant(2, tf.uint32)
    base = _hash32(example_bits[None, :, None] + tf.constant(_GOLDEN, tf.uint32) * counter)
    u1 = _uniform_open(_hash32(base ^ tf.constant(0x68E31DA4, tf.uint32)), dtype)
    u2 = _uniform_open(_hash32(base ^ tf.constant(0xB5297A4D, tf.uint32)), dtype)
    return tf.sqrt(-2.0 * tf.math.log(u1)) * tf.cos((2.0 * math.pi) * u2)


def _make_batch_estimator(model, num_samples, chunk_size, jit_compile):
    """Returns a tf.function (x, condition_vector, example_index, seed) -> (log_px, reconstruction, kl)."""
    num_chunks = -(-num_samples // chunk_size)

    def estimate(x, condition_vector, example_index, seed):
        encoded = model.encode_for_bound(x, condition_vector)  # once per batch, reused by every chunk
        dtype = x.dtype
        batch = tf.shape(x)[0]
        analytic = []  # whether the model's KL has a closed form, learnt when the loop body is traced

        def body(c, acc, ll_sum, kl_sum, kl_exact):
            sample_index = c * chunk_size + tf.range(chunk_size)
            valid = sample_index < num_samples  # the last chunk may run past K
            eps = counter_normal(seed, example_index, sample_index, model.noise_dim, dtype)
            terms = model.bound_terms(x, eps, condition_vector, encoded=encoded)
            log_weights = objectives.log_importance_weights(terms)  # (chunk, batch)
            log_weights = tf.where(valid[:, None], log_weights, tf.constant(-np.inf, dtype))
            # logsumexp over the chunk = the chunk's IWAE bound + log(chunk_size).
            chunk_lse = objectives.importance_weighted_bound(log_weights) + math.log(chunk_size)
            high = tf.maximum(acc, chunk_lse)
            high_safe = tf.where(tf.math.is_finite(high), high, tf.zeros_like(high))
            acc = high_safe + tf.math.log(tf.exp(acc - high_safe) + tf.exp(chunk_lse - high_safe))
            ll_sum = ll_sum + tf.reduce_sum(tf.where(valid[:, None], terms.log_likelihood, 0.0), axis=0)
            log_ratio = terms.log_posterior - terms.log_prior
            kl_sum = kl_sum + tf.reduce_sum(tf.where(valid[:, None], log_ratio, 0.0), axis=0)
            analytic[:] = [terms.analytic_kl is not None]
            if terms.analytic_kl is not None:
                kl_exact = tf.cast(terms.analytic_kl, dtype)
            return c + 1, acc, ll_sum, kl_sum, kl_exact

        acc0 = tf.fill([batch], tf.constant(-np.inf, dtype))
        zeros = tf.zeros([batch], dtype)
        _, lse, ll_sum, kl_sum, kl_exact = tf.while_loop(
            lambda c, *_: c < num_chunks,
            body,
            (tf.constant(0), acc0, zeros, zeros, zeros),
            maximum_iterations=num_chunks,
        )
        log_px = lse - math.log(num_samples)
        reconstruction = ll_sum / num_samples
        # Analytic when the model has a closed form, else the Monte Carlo mean over the same K draws.
        kl = kl_exact if analytic[0] else kl_sum / num_samples
        return log_px, reconstruction, kl

    return tf.function(estimate, jit_compile=jit_compile, reduce_retracing=True)


def _default_chunk(num_samples, batch_size):
    return max(1, min(num_samples, _LATENTS_PER_CHUNK // max(1, batch_size)))


def _iterate_estimates(model, images, num_samples, batch_size, chunk_size, seed, jit_compile, conditions=None):
    model._require_built()
    model._require(BOUND, "importance-sampled log-likelihood")
    num_samples = int(num_samples)
    if num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples}.")
    images = np.asarray(images)
    if images.ndim == len(model.data_shape):
        images = images[None]
    model._check_shape(images.shape)
    n = len(images)
    vectors = model.condition_vector(conditions, "importance_sampled_log_likelihood")
    if vectors is not None:
        vectors = np.asarray(vectors)
        if len(vectors) != n:
            raise ValueError(f"{n} images need {n} conditions, got {len(vectors)}.")
    batch_size = int(min(batch_size, max(n, 1)))
    chunk_size = int(chunk_size or _default_chunk(num_samples, batch_size))
    chunk_size = min(chunk_size, num_samples)
    estimator = _make_batch_estimator(model, num_samples, chunk_size, jit_compile)
    seed_tensor = tf.constant(int(seed) % (2**32), tf.int64)
    for start in range(0, n, batch_size):
        x = images[start : start + batch_size].astype(model.compute_dtype, copy=False)
        c = None if vectors is None else vectors[start : start + batch_size]
        size = len(x)
        if size < batch_size:  # pad the last batch so the compiled function is traced once
            x = np.concatenate([x, np.zeros((batch_size - size,) + x.shape[1:], x.dtype)])
            c = None if c is None else np.concatenate([c, np.zeros((batch_size - size,) + c.shape[1:], c.dtype)])
        index = tf.range(start, start + batch_size, dtype=tf.int64)
        with log_densities_with_xla():  # traced on the first call: the log-density is one XLA cluster
            outputs = estimator(tf.constant(x), None if c is None else tf.constant(c), index, seed_tensor)
        yield tuple(np.asarray(o)[:size] for o in outputs)


def importance_sampled_log_likelihood(
    model, images, num_samples=1000, batch_size=100, chunk_size=None, seed=0, jit_compile=False, conditions=None
):
    """Per-example importance-sampled estimates of log p(x) in nats (IS-K).

    log p(x) ~= logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K, z_k ~ q(z|x).

    Args:
        model: a built model with the BOUND capability (a VAE of any kind): its own
            `bound_terms` give log p(x|z), log p(z) and log q(z|x) at the draws.
        images: array (N, *data_shape), as the model sees them (binarized for Bernoulli).
        num_samples: int, default 1000. K.
        batch_size: int, default 100. Examples per compiled call.
        chunk_size: int or None, default None. Samples decoded per loop iteration
            (chunk_size * batch_size latents per decoder call); None picks about
            25,000 latents per chunk. Does not change the result.
        seed: int, default 0. The same seed gives the same estimates.
        jit_compile: bool, default False. Compile with XLA. Measured on a 2-core CPU
            (bench/bench_likelihood.py), XLA was 6-40% slower than the plain graph for
            the MLP decoder: XLA's CPU elementwise code (the Bernoulli log-density over
            chunk_size * batch_size * pixels values) runs on one thread.

        conditions: the conditions of a conditional model's images (labels or vectors,
            one per image), else None.
    Returns:
        np.ndarray (N,) of log p(x) estimates.

    Example:
    >>> import numpy as np
    >>> from keras_vae.models import build_vae
    >>> model = build_vae((4, 4, 1), latent_dim=2, seed=0)
    >>> x = (np.random.default_rng(0).uniform(size=(3, 4, 4, 1)) > 0.5).astype("float32")
    >>> log_px = importance_sampled_log_likelihood(model, x, num_samples=50)
    >>> log_px.shape, bool(np.all(log_px < 0))
    ((3,), True)
    """
    parts = [
        log_px
        for log_px, _, _ in _iterate_estimates(
            model, images, num_samples, batch_size, chunk_size, seed, jit_compile, conditions
        )
    ]
    return np.concatenate(parts) if parts else np.zeros((0,), np.float32)


def posterior_mean_variance(model, images, batch_size=500):
    """Per-dimension variance over the data of E_q[z_d | x] (the encoder mean), streamed."""
    model._require_built()
    images = np.asarray(images)
    count = 0
    total = np.zeros(model.latent_dim, np.float64)
    total_sq = np.zeros(model.latent_dim, np.float64)
    for start in range(0, len(images), batch_size):
        z_mean = model.embed(images[start : start + batch_size].astype(model.compute_dtype, copy=False))
        z_mean = np.asarray(z_mean, np.float64)
        count += len(z_mean)
        total += z_mean.sum(axis=0)
        total_sq += (z_mean**2).sum(axis=0)
    if count == 0:
        raise ValueError("No images to evaluate.")
    mean = total / count
    return np.maximum(total_sq / count - mean**2, 0.0)


def active_units(model, images, threshold=0.01, batch_size=500):
    """Number of active latent dimensions (Burda et al. 2016): Var_x(E_q[z_d|x]) > threshold.

    Args:
        model: a built `keras_vae.VAE`.
        images: array (N, *data_shape).
        threshold: float, default 0.01.
        batch_size: int, default 500.

    Returns:
        int.
    """
    return int(np.sum(posterior_mean_variance(model, images, batch_size) > threshold))


def evaluate_split(model, images, num_samples=1000, batch_size=100, chunk_size=None, seed=0, jit_compile=False):
    """Summarises a model on a split: IS-K NLL, bits/dim, ELBO, reconstruction, KL, active units.

    All values except `bits_per_dim`, `active_units` and `num_examples` are in
    nats per example, averaged over the examples. The reconstruction term is the
    mean of log p(x|z_k) over the same K draws; the KL is analytic (else the
    Monte Carlo mean over the K draws). Streams batch by batch: memory does not
    grow with the number of images or with K.

    Args:
        model, images, num_samples, batch_size, chunk_size, seed, jit_compile: as for
            `importance_sampled_log_likelihood`.

    Returns:
        dict with keys nll, bits_per_dim, elbo, reconstruction, kl, active_units,
        num_examples, num_samples, nll_standard_error.
    """
    images = np.asarray(images)
    n = 0
    sums = np.zeros(4, np.float64)  # log_px, log_px^2, reconstruction, kl
    for log_px, reconstruction, kl in _iterate_estimates(
        model, images, num_samples, batch_size, chunk_size, seed, jit_compile
    ):
        log_px = log_px.astype(np.float64)
        n += len(log_px)
        sums += [log_px.sum(), (log_px**2).sum(), reconstruction.astype(np.float64).sum(), kl.astype(np.float64).sum()]
    if n == 0:
        raise ValueError("No images to evaluate.")
    mean_log_px = sums[0] / n
    variance = max(sums[1] / n - mean_log_px**2, 0.0)
    nll = -mean_log_px
    reconstruction = sums[2] / n
    kl = sums[3] / n
    num_dims = int(np.prod(images.shape[1:]))
    return {
        "nll": float(nll),
        "nll_standard_error": float(math.sqrt(variance / n)),
        "bits_per_dim": float(objectives.bits_per_dim(nll, num_dims)),
        "elbo": float(reconstruction - kl),
        "reconstruction": float(reconstruction),
        "kl": float(kl),
        "active_units": active_units(model, images),
        "num_examples": int(n),
        "num_samples": int(num_samples),
        "units": "nats per example",
    }


def classification_summary(model, images, labels, batch_size=500):
    """Returns a CLASSIFY model's test accuracy, error and confusion matrix on labelled examples.

    The prediction is argmax_y q(y|x) (`model.classify`); confusion_matrix[i][j] counts
    examples of true class i predicted as class j.

    Args:
        model: built model with the CLASSIFY capability.
        images: float array (N, *data_shape), as the model sees them.
        labels: int array (N,) of class ids.
        batch_size: int, default 500.

    Example:
    >>> import numpy as np
    >>> from keras_vae.models import build_model
    >>> model = build_model("m2", (4,), latent_dim=2, num_classes=2, likelihood="gaussian", seed=0)
    >>> summary = classification_summary(model, np.zeros((3, 4), "float32"), np.array([0, 1, 1]))
    >>> summary["num_examples"], round(summary["accuracy"] + summary["error"], 6)
    (3, 1.0)
    """
    labels = np.asarray(labels, np.int64)
    k = int(model.num_classes)
    predictions = np.concatenate(
        [np.asarray(model.classify(images[i : i + batch_size])).argmax(-1) for i in range(0, len(images), batch_size)]
    )
    confusion = np.bincount(labels * k + predictions, minlength=k * k).reshape(k, k)
    accuracy = float(np.trace(confusion) / max(len(labels), 1))
    return {
        "accuracy": accuracy,
        "error": 1.0 - accuracy,
        "confusion_matrix": confusion.tolist(),
        "num_examples": int(len(labels)),
    }


def _evaluate_classifier(run, settings, model, split, max_examples, batch_size):
    """The `evaluate_run` of a CLASSIFY model: test accuracy and error next to the model's own bounds."""
    from keras_vae.data import make_dataset  # noqa: PLC0415 (only here)

    data = load_splits(settings, (split,), max_examples)[split]
    if data.labels is None:
        raise RunError(f"the {split!r} split of {settings.data or settings.dataset} has no labels to score a classifier on.")
    images = model_inputs(settings, data.examples)
    result = classification_summary(model, images, data.labels, batch_size=batch_size)
    bounds = model.evaluate(
        make_dataset(images, data.labels, batch_size=batch_size, shuffle=False), verbose=0, return_dict=True
    )
    result.update({name: float(bounds[name]) for name in model.metric_names if name in bounds and name != "loss"})
    result["units"] = "bounds in nats per example"
    return result


def evaluate_exact(model, images, batch_size=100, seed=0):
    """Summarises an EXACT model (a flow) on a split: its exact NLL in nats per example and bits/dim.

    For a flow, `model.exact_log_likelihood` is log p(y) - D ln 256 at the uniformly dequantised
    y = (k + u) / 256 (`keras_vae.flows.flow_model`): nats per image of the 8-bit data, the
    units of a discretized-logistic VAE's IS-K NLL, so bits/dim = NLL / (D ln 2) compare. Batch
    b draws its u from the stateless seed `[0, seed + b]`: the same seed, the same dequantised set.

    Args:
        model: a built model with the EXACT capability.
        images: array (N, *data_shape) in [0, 1] (8-bit images / 255).
        batch_size: int, default 100.
        seed: int, default 0.

    Returns:
        dict with keys nll, nll_standard_error, bits_per_dim, num_examples, estimate, units.
    """
    model._require(EXACT, "exact log-likelihood")
    images = np.asarray(images, np.float32)
    log_likelihood = lambda x, s: model.exact_log_likelihood(x, seed=s)  # noqa: E731
    if len(images) > 4 * batch_size:  # tracing the flow costs more than a few eager batches
        log_likelihood = tf.function(log_likelihood, reduce_retracing=True, autograph=False)
    values = [
        np.asarray(log_likelihood(tf.constant(images[start : start + batch_size]), tf.constant(seed + index)))
        for index, start in enumerate(range(0, len(images), batch_size))
    ]
    if not values:
        raise ValueError("No images to evaluate.")
    log_px = np.concatenate(values).astype(np.float64)
    nll = -float(log_px.mean())
    return {
        "nll": nll,
        "nll_standard_error": float(log_px.std() / math.sqrt(len(log_px))),
        "bits_per_dim": float(objectives.bits_per_dim(nll, int(np.prod(images.shape[1:])))),
        "num_examples": int(len(log_px)),
        "estimate": "exact: log p(y) - D ln 256 at one uniform dequantisation y = (k + u) / 256 per image",
        "units": "nats per example",
    }


#: Importance samples K per image of `evaluate_run` when none are given (models with a bound).
DEFAULT_IMPORTANCE_SAMPLES = 1000


def evaluate_run(
    run_dir, num_samples=None, split="test", max_examples=None, out=None, batch_size=100, seed=0,
    disentanglement=False, disentanglement_scale=1.0,
):
    """Evaluates a run's model on a split of its data with `evaluate_split`; writes and returns the result.

    The split is the run's own (`keras_vae.runs`: its dataset, or the user's images or table
    with the run's seed and validation fraction); binarized runs are evaluated on one fixed
    static binarization (seed = run seed + 1), the draw the run's test ELBO used.

    Args:
        run_dir: str. A run directory written by `keras-vae train`.
        num_samples: int or None, default None. K, as for `evaluate_split` (None: DEFAULT_IMPORTANCE_SAMPLES);
            refused for a model whose evaluation draws no importance samples (EXACT: a flow; CLASSIFY).
        batch_size, seed: as for `evaluate_split`.
        split: str, default "test". A split of the run's data.
        max_examples: int or None, default None. Evaluate the first N examples.
        out: str or None, default None. Output JSON (default RUN_DIR/evaluation.json), written atomically;
            checked to be writable before any work (`keras_vae.atomic.check_writable`).
        disentanglement: bool, default False. Also score the model's `embed` codes with
            `keras_vae.disentanglement.evaluate_disentanglement` (MIG, FactorVAE, DCI, beta-VAE) on
            the whole factor grid of the run's dataset (a sprites set); under the key "disentanglement".
        disentanglement_scale: float, default 1.0. Multiplies the metrics' default sample sizes
            (`keras_vae.disentanglement.check_scale`: checked before any work); only with `disentanglement`.

    Raises:
        RunError: the run cannot be read (the message names the file and field), or its model has
            neither a bound on log p(x) nor an exact one (an autoencoder) or takes a condition, or
            `num_samples` was given for a model whose evaluation uses none.
            A model with an exact likelihood (EXACT: a flow) is evaluated by `evaluate_exact`.
        OSError: `out` cannot be written (raised before any work).
        ValueError: `disentanglement_scale` outside `check_scale`'s range, or given without `disentanglement`.

    Usage, on a finished run (tests/test_evaluation.py runs it on a trained one):

        result = evaluate_run("runs/default", num_samples=100, max_examples=500)
        print(result["nll"], result["bits_per_dim"])
    """
    if disentanglement:
        from keras_vae.disentanglement import check_scale

        check_scale(disentanglement_scale)  # a bad scale fails now, not after the likelihood's evaluation
    elif disentanglement_scale != 1.0:
        raise ValueError(
            f"--disentanglement-scale {disentanglement_scale:g} sizes the disentanglement metrics, which only "
            "--disentanglement computes; add --disentanglement or drop --disentanglement-scale."
        )
    run = Run(run_dir)
    settings = run.settings()
    atomic.check_writable(out or run.file(EVALUATION_FILE))  # a bad --out fails now, not after the evaluation
    model = run.load_model()
    if not model.can(BOUND) and not model.can(EXACT):
        raise RunError(
            f"{run.file(MODEL_FILE)}: this {type(model).__name__} has no bound on log p(x) to estimate; "
            "keras-vae evaluate needs a model with an ELBO (e.g. --model vae). Its test loss is in metrics.json."
        )
    if num_samples is not None and (model.can(CLASSIFY) or model.can(EXACT)):
        measured = (
            "its accuracy and bounds, computed without importance sampling" if model.can(CLASSIFY)
            else "its exact log-likelihood (a normalizing flow), computed without importance sampling"
        )
        raise RunError(
            f"--importance-samples {num_samples} does not apply to this {type(model).__name__} run: keras-vae "
            f"evaluate reports {measured}; drop --importance-samples."
        )
    num_samples = DEFAULT_IMPORTANCE_SAMPLES if num_samples is None else num_samples
    if model.can(CLASSIFY):
        start = time.perf_counter()
        result = _evaluate_classifier(run, settings, model, split, max_examples, batch_size)
        result.update({"split": split, "dataset": settings.data or settings.dataset,
                       "seconds": time.perf_counter() - start, "model": os.path.abspath(run.file(MODEL_FILE))})
        atomic.write_json(out or run.file(EVALUATION_FILE), result)
        return result
    if model.takes_condition:
        raise RunError(
            f"{run.file(MODEL_FILE)} takes a condition, and the importance-sampled likelihood here is for "
            "unconditional models; the run's test ELBO is in metrics.json."
        )
    if disentanglement and (settings.data or not is_sprites(settings.dataset)):
        raise RunError(
            f"--disentanglement needs data with known factors of variation; this run trained on "
            f"{settings.data or settings.dataset!r}. Train on --dataset sprites, sprites_medium or sprites_small."
        )
    examples = load_splits(settings, (split,), max_examples)[split].examples
    images = model_inputs(settings, examples)
    start = time.perf_counter()
    if model.can(EXACT):
        result = evaluate_exact(model, images, batch_size=batch_size, seed=seed)
    else:
        result = evaluate_split(model, images, num_samples=num_samples, batch_size=batch_size, seed=seed)
    result.update(
        {
            "split": split,
            "binarization": "none" if settings.binarize == "none" else f"static (seed {settings.seed + 1})",
            "dataset": settings.data or settings.dataset,
            "seed": int(seed),
            "seconds": time.perf_counter() - start,
            "model": os.path.abspath(run.file(MODEL_FILE)),
        }
    )
    if disentanglement:
        from keras_vae.disentanglement import FactorDataset, evaluate_disentanglement

        factors = FactorDataset.from_sprites(settings.dataset, cache_dir=settings.data_dir)
        started = time.perf_counter()
        scores = evaluate_disentanglement(
            lambda x: ops.convert_to_numpy(model.embed(x)), factors, seed=seed, scale=disentanglement_scale
        )
        scores["seconds"] = time.perf_counter() - started
        result["disentanglement"] = scores
    atomic.write_json(out or run.file(EVALUATION_FILE), result)
    return result


__all__ = [
    "active_units",
    "classification_summary",
    "evaluate_run",
    "counter_normal",
    "evaluate_exact",
    "evaluate_split",
    "importance_sampled_log_likelihood",
    "posterior_mean_variance",
]
