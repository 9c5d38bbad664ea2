"""The variational autoencoder as a `keras.Model` trained with `fit`."""

import math

import keras
import tensorflow_probability as tfp
from keras import ops

from keras_vae import likelihoods, objectives
from keras_vae.layers.noise import stateless_seed
from keras_vae.layers.sampling import Sampling
from keras_vae.models.capabilities import BOUND, POSTERIOR, PRIOR
from keras_vae.models.generative_model import GenerativeModel
from keras_vae.posteriors import get_posterior
from keras_vae.priors import get_prior

tfd = tfp.distributions


OBJECTIVES = ("elbo", "iwae", "tcvae")

#: The metrics objective "tcvae" adds: the KL split of Chen et al. (2018), `objectives.total_correlation_terms`.
TC_METRIC_NAMES = ("mutual_information", "total_correlation", "dimension_kl")


@keras.saving.register_keras_serializable(package="keras_vae")
class VAE(GenerativeModel):
    """Variational autoencoder (Kingma and Welling 2013) trained on the beta-weighted ELBO.

    For each input x, with q(z|x) = N(mu(x), diag(exp(logvar(x)))) from the encoder,
    L draws z_l = mu + exp(logvar / 2) * eps_l, and p(x|z) from the decoder and
    the likelihood:

        reconstruction(x) = (1/L) sum_l log p(x|z_l)          (summed over all pixels)
        kl(x)             = KL(q(z|x) || p(z))                (summed over latent dims;
                                                               analytic, else Monte Carlo)
        elbo(x)           = reconstruction(x) - kl(x)         <= log p(x)
        loss(x)           = -(reconstruction(x) - beta * kl(x))

    Two options change the loss (what is optimised) but not the metrics, which
    stay the unclamped ELBO terms above:

    - `objective="iwae"`: the importance-weighted bound of Burda et al. (2016)
      with K = `num_samples` draws, loss = -mean_x log (1/K) sum_k
      p(x|z_k) p(z_k) / q(z_k|x). beta must be 1 (it weights the ELBO's KL only).
    - `objective="tcvae"`: beta-TCVAE (Chen et al. 2018). The KL is split into
      index-code mutual information, total correlation and dimension-wise KL with
      the minibatch-weighted sampling estimator over `dataset_size` training
      examples (`objectives.total_correlation_terms`), and
      loss = -mean_x [reconstruction(x) - MI(x) - tc_weight * TC(x) - DKL(x)].
      The three terms are metrics too. beta must be 1 (`tc_weight` is beta-TCVAE's
      beta); the posterior must be the diagonal Gaussian.
    - `free_bits=lambda > 0` (Kingma et al. 2016): the KL term of the loss becomes
      sum_d max(lambda, mean_batch KL_d), with KL_d the KL of latent dimension d,
      so dimensions below lambda nats get no pressure towards the prior.

    All four metrics are in nats per example: summed within an example and
    averaged over the batch (and over batches by `fit` and `evaluate`).
    `model.evaluate(test_data)` therefore reports the test ELBO.

    `beta` lives in a non-trainable variable, `model.beta`, read inside the
    compiled train step, so a callback can change it during `fit`
    (`model.beta.assign(0.5)`).

    Args:
        encoder: keras Layer mapping x to `(z_mean, z_log_var)`, each (batch, latent_dim).
        decoder: keras Layer mapping z (batch, latent_dim) to the likelihood's
            parameters, shaped like x with `likelihood.parameter_channels(C)` channels.
        likelihood: str, dict or `keras_vae.likelihoods.Likelihood`, default
            "bernoulli". A name in `keras_vae.likelihoods.LIKELIHOODS`: "bernoulli" (decoder gives
            logits), "gaussian", "continuous_bernoulli", "heteroscedastic_gaussian", "discretized_logistic".
        prior: str, dict, `keras_vae.priors.Prior` or None, default None (N(0, I)).
            "standard_normal", "mixture" or "vamp" (through this model's encoder);
            `prior_distribution()` returns p(z).
        beta: float, default 1.0. Weight of the KL term in the loss.
        num_samples: int, default 1. Monte Carlo samples L of z per input (K for "iwae").
        objective: str, default "elbo". One of `OBJECTIVES`: "elbo", "iwae" or "tcvae".
        tc_weight: float, default 1.0. Weight of the total correlation ("tcvae" only).
        dataset_size: int or None, default None. N, the number of training examples, which the
            "tcvae" estimator of q(z) needs (required there; `keras-vae train` passes it).
        free_bits: float, default 0.0. Per-dimension KL floor lambda in nats ("elbo" only).
        posterior: str, dict, `keras_vae.posteriors.Posterior` or None, default None
            ("diagonal"). "diagonal", "full_covariance" or "iaf"; the non-diagonal ones
            use the Monte Carlo KL at the reparameterised draws.
        seed: int or None, default None. Seed of the sampling noise.
        **kwargs: standard `keras.Model` arguments (`name`).

    Example:
    >>> import numpy as np, keras
    >>> from keras_vae import VAE, MLPEncoder, MLPDecoder
    >>> model = VAE(MLPEncoder(latent_dim=2), MLPDecoder(output_shape=(28, 28, 1)), seed=0)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> x = np.random.default_rng(0).uniform(size=(64, 28, 28, 1)).astype("float32")
    >>> history = model.fit(x, epochs=1, batch_size=32, verbose=0)
    >>> sorted(history.history)
    ['elbo', 'kl', 'loss', 'reconstruction']
    """

    capabilities = frozenset({PRIOR, BOUND, POSTERIOR})
    metric_names = ("loss", "elbo", "reconstruction", "kl")
    nested_config_keys = ("encoder", "decoder", "likelihood", "prior", "posterior")
    option_names = ("beta", "num_samples", "objective", "free_bits", "prior", "posterior", "tc_weight", "dataset_size")

    def __init__(
        self,
        encoder,
        decoder,
        likelihood="bernoulli",
        prior=None,
        beta=1.0,
        num_samples=1,
        seed=None,
        objective="elbo",
        free_bits=0.0,
        posterior=None,
        tc_weight=1.0,
        dataset_size=None,
        **kwargs,
    ):
        super().__init__(encoder, decoder, likelihood=likelihood, seed=seed, **kwargs)
        if int(num_samples) < 1:
            raise ValueError(f"num_samples must be a positive integer, got {num_samples}.")
        if not float(beta) >= 0:
            raise ValueError(f"beta must be a non-negative number, got {beta}.")
        if objective not in OBJECTIVES:
            raise ValueError(f"Unknown objective {objective!r}; choose one of {list(OBJECTIVES)}.")
        if not (float(free_bits) >= 0 and math.isfinite(float(free_bits))):
            raise ValueError(f"free_bits must be a non-negative number, got {free_bits}.")
        if objective == "iwae" and float(beta) != 1.0:
            raise ValueError(
                f"beta={beta} has no meaning for objective='iwae' (beta weights the ELBO's KL term); use beta=1."
            )
        if objective == "iwae" and float(free_bits) > 0:
            raise ValueError("free_bits applies to the ELBO's KL term; use it with objective='elbo', not 'iwae'.")
        if objective == "tcvae":
            _check_tcvae(beta, free_bits, tc_weight, dataset_size)
            # The three KL terms are metrics of this model only: its own trackers (the base made the rest).
            self.metric_names = type(self).metric_names + TC_METRIC_NAMES
            for name in TC_METRIC_NAMES:
                setattr(self, f"{name}_tracker", keras.metrics.Mean(name=name))
        self.tc_weight = float(tc_weight)
        self.dataset_size = None if dataset_size is None else int(dataset_size)
        self.objective = objective
        self.free_bits = float(free_bits)
        self.prior = get_prior(prior)
        self.posterior = get_posterior(posterior)
        self.num_samples = int(num_samples)
        self.sampling = Sampling(seed=seed, name="sampling")
        self.beta = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(float(beta)),
            trainable=False,
            name="beta",
        )

    # Building ---------------------------------------------------------------------

    def build_parts(self):
        for layer, shape in (
            (self.posterior, (None, self.latent_dim)),
            (self.sampling, [(None, self.latent_dim), (None, self.latent_dim)]),
        ):
            if not layer.built:
                layer.build(shape)
        if not self.prior.built:
            self.prior.build((None, self.latent_dim), data_shape=self.data_shape)

    # The contract -----------------------------------------------------------------

    def embedding(self, x, condition_vector, training=False):
        z_mean, z_log_var = self.encoder(self.with_condition(x, condition_vector), training=training)
        return self.posterior.point(z_mean, z_log_var)

    def encode(self, x, condition=None):
        """Returns `(z_mean, z_log_var)` of q(z|x, c) for a batch of inputs."""
        condition = self.condition_vector(condition, "encode")
        return self.encoder(self.with_condition(self._as_inputs(x), condition), training=False)

    def prior_latents(self, n, seed, stream=0):
        """Returns `n` draws z ~ p(z), (n, latent_dim), from the stateless seed `[stream, seed]`.

        Stream 0 gives the z of `sample(n, seed)` and of the exported `sample` signature.
        """
        self._require_built()
        return self.prior_distribution(self.compute_dtype).sample(n, seed=stateless_seed(seed, stream))

    def prior_distribution(self, dtype=None):
        """Returns p(z) as a tfd distribution (a `VampPrior` gets this model's encoder)."""
        self._require_built()
        dtype = dtype or self.compute_dtype
        if getattr(self.prior, "needs_encoder", False):
            return self.prior.distribution(self.latent_dim, dtype=dtype, encoder=self.encoder)
        return self.prior.distribution(self.latent_dim, dtype=dtype)

    def posterior_distribution(self, x, condition=None, training=False):
        """Returns q(z|x, c) as a tfd distribution for a batch of inputs (the model's `posterior`)."""
        z_mean, z_log_var = self.encode_for_bound(self._as_inputs(x), self.condition_vector(condition), training)
        return self.posterior.distribution(z_mean, z_log_var)

    # The bound ----------------------------------------------------------------------

    @property
    def noise_dim(self):
        """Standard normal numbers per latent draw that `bound_terms` maps to z (here latent_dim)."""
        return self.latent_dim

    def encode_for_bound(self, x, condition_vector=None, training=False):
        """Returns the encoder outputs `bound_terms` needs, `(z_mean, z_log_var)`, for reuse across draws."""
        return self.encoder(self.with_condition(x, condition_vector), training=training)

    def bound_terms(self, x, eps, condition_vector=None, training=False, encoded=None):
        """Returns `objectives.BoundTerms` at the draws z_l = posterior(eps_l) for a batch of inputs.

        The one place a VAE's bounds are computed: training (noise from the `Sampling`
        layer), `keras_vae.evaluation` (counter-based noise) and the exported `elbo`
        signature (stateless noise) all call it. z and log q(z|x) come from the
        posterior's `sample_and_log_prob` (z = mu + exp(logvar / 2) * eps for the
        diagonal Gaussian).

        Args:
            x: float tensor (batch, *data_shape).
            eps: float tensor (L, batch, noise_dim) of N(0, 1) noise.
            condition_vector: float tensor (batch, dim) or None.
            training: bool, default False.
            encoded: `encode_for_bound(x, condition_vector)` computed already, or None.
        """
        z_mean, z_log_var = encoded if encoded is not None else self.encode_for_bound(x, condition_vector, training)
        posterior = self.posterior.distribution(z_mean, z_log_var)
        z, log_q = self.posterior.sample_and_log_prob(z_mean, z_log_var, eps)
        prior = self.prior_distribution(z.dtype)
        return objectives.BoundTerms(
            log_likelihood=self.log_likelihood(x, z, condition_vector, training=training),
            log_prior=prior.log_prob(z),
            log_posterior=log_q,
            analytic_kl=objectives.analytic_kl(posterior, prior),
            z=z,
            posterior=posterior,
            prior=prior,
        )

    def log_likelihood(self, x, z, condition_vector=None, training=False):
        """Returns log p(x|z, c) of shape (L, batch) for z of shape (L, batch, latent_dim)."""
        num_draws = ops.shape(z)[0]
        flat_z = ops.reshape(z, (-1, self.latent_dim))
        if condition_vector is not None:
            # z flattened sample-major: row l * batch + b pairs with condition b.
            condition_vector = ops.tile(condition_vector, (num_draws, 1))
        parameters = self.decoder(self.with_condition(flat_z, condition_vector), training=training)
        parameters = ops.reshape(parameters, (num_draws, -1) + tuple(parameters.shape[1:]))
        # The likelihood's own log-density (for a Bernoulli one fused form, not tfp's: the same density),
        # compiled with XLA when `keras_vae.evaluation` asks for it.
        log_prob = likelihoods.log_prob_function(self.likelihood)
        return log_prob(parameters, x, event_ndims=len(self.data_shape))

    def _training_terms(self, x, condition_vector, num_samples, training):
        eps = self.sampling.noise((num_samples, ops.shape(x)[0], self.noise_dim))
        return self.bound_terms(x, eps, condition_vector, training=training)

    def elbo_terms(self, x, num_samples=None, training=False, condition=None):
        """Returns per-example `(reconstruction, kl)` in nats, each of shape (batch,).

        Args:
            x: tensor of inputs (batch, *data_shape).
            num_samples: int or None, default None (the model's `num_samples`).
            training: bool, default False.
            condition: the condition of a conditional model, else None.
        """
        terms = self._training_terms(
            self._as_inputs(x), self.condition_vector(condition, "elbo_terms"), num_samples or self.num_samples, training
        )
        return objectives.elbo_terms(terms)

    def objective_terms(self, x, condition=None, training=False):
        """Returns `(loss, reconstruction, kl)`: the scalar training loss and per-example ELBO terms."""
        loss, terms = self.loss_terms(x, self.condition_vector(condition, "objective_terms"), training=training)
        return loss, terms["reconstruction"], terms["kl"]

    def loss_terms(self, x, condition, training=False):
        """Returns the loss and the per-example `elbo`, `reconstruction` and `kl`.

        The loss follows `objective`, `beta` and `free_bits`; the metrics are the
        unclamped ELBO terms.
        """
        terms = self._training_terms(x, condition, self.num_samples, training)
        reconstruction, kl = objectives.elbo_terms(terms)
        if self.objective == "tcvae":
            split = objectives.total_correlation_terms(terms, self.dataset_size)
            tc_weight = ops.cast(self.tc_weight, kl.dtype)
            regulariser = split.mutual_information + tc_weight * split.total_correlation + split.dimension_kl
            loss = -ops.mean(reconstruction) + ops.mean(regulariser)
            return loss, {"elbo": reconstruction - kl, "reconstruction": reconstruction, "kl": kl, **split._asdict()}
        if self.objective == "iwae":
            loss = -ops.mean(objectives.importance_weighted_bound(objectives.log_importance_weights(terms)))
        else:
            if self.free_bits > 0:
                kl_per_dim = ops.mean(objectives.per_dimension_kl(terms), axis=0)  # (latent_dim,)
                kl_term = ops.sum(ops.maximum(kl_per_dim, ops.cast(self.free_bits, kl_per_dim.dtype)))
            else:
                kl_term = ops.mean(kl)
            loss = -ops.mean(reconstruction) + ops.cast(self.beta, kl.dtype) * kl_term
        return loss, {"elbo": reconstruction - kl, "reconstruction": reconstruction, "kl": kl}

    def named_encoding(self, x, condition_vector):
        z_mean, z_log_var = self.encoder(self.with_condition(x, condition_vector), training=False)
        return {"z_mean": z_mean, "z_log_var": z_log_var}

    # Serialization ----------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "prior": keras.saving.serialize_keras_object(self.prior),
                "posterior": keras.saving.serialize_keras_object(self.posterior),
                "beta": float(keras.ops.convert_to_numpy(self.beta)),
                "num_samples": self.num_samples,
                "objective": self.objective,
                "free_bits": self.free_bits,
                "tc_weight": self.tc_weight,
                "dataset_size": self.dataset_size,
            }
        )
        return config


def _check_tcvae(beta, free_bits, tc_weight, dataset_size):
    """Raises ValueError naming the fix when the beta-TCVAE objective cannot use these arguments."""
    if float(beta) != 1.0:
        raise ValueError(
            f"beta={beta} with objective='tcvae': beta-TCVAE weights the total correlation by tc_weight and the "
            "other two KL terms by 1; pass tc_weight (its beta) and leave beta at 1."
        )
    if float(free_bits) > 0:
        raise ValueError("free_bits applies to objective='elbo'; objective='tcvae' takes tc_weight instead.")
    if not (float(tc_weight) >= 0 and math.isfinite(float(tc_weight))):
        raise ValueError(f"tc_weight must be a non-negative number, got {tc_weight}.")
    if dataset_size is None or int(dataset_size) < 1:
        raise ValueError(
            f"objective='tcvae' estimates q(z) over the training set, so it needs dataset_size (the number of "
            f"training examples); got {dataset_size!r}."
        )
