"""The variational autoencoder as a `keras.Model` trained with `fit`."""

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from keras_vae import objectives
from keras_vae.distribute import scale_loss_for_replicas, step_outputs
from keras_vae.layers.sampling import Sampling
from keras_vae.likelihoods import get_likelihood
from keras_vae.models.input_checks import InputChecks
from keras_vae.posteriors import DiagonalGaussian, get_posterior
from keras_vae.priors import get_prior

tfd = tfp.distributions


OBJECTIVES = ("elbo", "iwae")


def per_dimension_kl(posterior, prior, z=None):
    """KL(q_d || p_d) per latent dimension, shape (batch, latent_dim), for factorised q and p.

    Analytic when tfp registers the pair of one-dimensional distributions (the
    diagonal Gaussian against N(0, I)), else the Monte Carlo mean over the draws
    `z` (L, batch, latent_dim) of log q_d(z_d) - log p_d(z_d).
    """
    if not (isinstance(posterior, tfd.Independent) and isinstance(prior, tfd.Independent)):
        raise ValueError(
            "free_bits needs a per-dimension KL, so a posterior and prior that factorise over latent "
            f"dimensions (tfd.Independent); got {type(posterior).__name__} and {type(prior).__name__}."
        )
    q, p = posterior.distribution, prior.distribution
    try:
        return tfd.kl_divergence(q, p)
    except NotImplementedError:
        if z is None:
            raise ValueError("No closed-form per-dimension KL; pass posterior draws z.") from None
        return ops.mean(q.log_prob(z) - p.log_prob(z), axis=0)


@keras.saving.register_keras_serializable(package="keras_vae")
class VAE(InputChecks, keras.Model):
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
        objective: str, default "elbo". One of `OBJECTIVES`: "elbo" or "iwae".
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
        **kwargs,
    ):
        super().__init__(**kwargs)
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
        self.objective = objective
        self.free_bits = float(free_bits)
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = get_likelihood(likelihood)
        self.prior = get_prior(prior)
        self.posterior = get_posterior(posterior)
        self.num_samples = int(num_samples)
        self.seed = seed
        self.sampling = Sampling(seed=seed, name="sampling")
        self.beta = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(float(beta)),
            trainable=False,
            name="beta",
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.elbo_tracker = keras.metrics.Mean(name="elbo")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.data_shape = None
        self.latent_dim = None

    # Building ---------------------------------------------------------------------

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self.data_shape = tuple(input_shape[1:])
        # Sub-layers restored from a .keras file arrive built already.
        if not self.encoder.built:
            self.encoder.build(input_shape)
        z_mean_shape, _ = self.encoder.compute_output_shape(input_shape)
        self.latent_dim = int(z_mean_shape[-1])
        if not self.decoder.built:
            self.decoder.build((None, self.latent_dim))
        expected = self.data_shape[:-1] + (self.likelihood.parameter_channels(self.data_shape[-1]),)
        produced = tuple(self.decoder.compute_output_shape((None, self.latent_dim))[1:])
        if produced != expected:
            raise ValueError(
                f"The decoder outputs shape {produced} but data of shape {self.data_shape} with a "
                f"{type(self.likelihood).__name__} likelihood needs {expected}; build the decoder with "
                f"output_shape={expected}."
            )
        for layer, shape in (
            (self.likelihood, produced),
            (self.posterior, (None, self.latent_dim)),
            (self.sampling, [(None, self.latent_dim), (None, self.latent_dim)]),
        ):
            if not layer.built:
                layer.build(shape)
        if not self.prior.built:
            self.prior.build((None, self.latent_dim), data_shape=self.data_shape)
        self.built = True

    def get_build_config(self):
        return {"input_shape": None if self.data_shape is None else [None, *self.data_shape]}

    def build_from_config(self, config):
        if config.get("input_shape") is not None:
            self.build(tuple(config["input_shape"]))

    def call(self, inputs, training=False):
        """Returns reconstructions through the posterior mean (deterministic)."""
        z_mean, z_log_var = self.encoder(inputs, training=training)
        z = self.posterior.point(z_mean, z_log_var)
        return self.likelihood(self.decoder(z, training=training))

    # Public methods ---------------------------------------------------------------

    def encode(self, x):
        """Returns `(z_mean, z_log_var)` of q(z|x) for a batch of inputs."""
        return self.encoder(self._as_inputs(x), training=False)

    def decode(self, z):
        """Returns E[x|z] (Bernoulli: probabilities; Gaussian: the mean) for latents z."""
        return self.likelihood(self.decoder(ops.convert_to_tensor(z, dtype=self.compute_dtype), training=False))

    def reconstruct(self, x):
        """Returns E[x|z] at z = E_q[z|x], the posterior mean (deterministic)."""
        return self(self._as_inputs(x), training=False)

    def sample(self, n, seed=None):
        """Returns E[x|z] for `n` draws z ~ p(z); the same `seed` gives the same images.

        Args:
            n: int. Number of images.
            seed: int or None, default None. Seeds a stateless draw.
        """
        self._require_built()
        seed = np.random.SeedSequence().generate_state(1)[0] if seed is None else seed
        prior = self.prior_distribution(self.compute_dtype)
        z = prior.sample(int(n), seed=tf.constant([0, int(seed) % (2**31 - 1)], dtype=tf.int32))
        return self.decode(z)

    def prior_distribution(self, dtype=None):
        """Returns p(z) as a tfd distribution (a `VampPrior` gets this model's encoder)."""
        self._require_built()
        dtype = dtype or self.compute_dtype
        if getattr(self.prior, "needs_encoder", False):
            return self.prior.distribution(self.latent_dim, dtype=dtype, encoder=self.encoder)
        return self.prior.distribution(self.latent_dim, dtype=dtype)

    def posterior_distribution(self, x, training=False):
        """Returns q(z|x) as a tfd distribution for a batch of inputs (the model's `posterior`)."""
        z_mean, z_log_var = self.encoder(self._as_inputs(x), training=training)
        return self.posterior.distribution(z_mean, z_log_var)

    def _posterior_draws(self, x, num_samples, training=False):
        """Returns `(z, log_q, posterior)`: draws (L, batch, latent), log q(z|x) or None, q(z|x).

        The diagonal posterior draws with the `Sampling` layer (log_q None: the KL is
        analytic); other posteriors map the layer's standard normal noise through
        `sample_and_log_prob`.
        """
        z_mean, z_log_var = self.encoder(x, training=training)
        posterior = self.posterior.distribution(z_mean, z_log_var)
        if isinstance(self.posterior, DiagonalGaussian):
            return self.sampling([z_mean, z_log_var], num_samples=num_samples), None, posterior
        zeros = ops.zeros_like(z_mean)
        eps = self.sampling([zeros, zeros], num_samples=num_samples)
        z, log_q = self.posterior.sample_and_log_prob(z_mean, z_log_var, eps)
        return z, log_q, posterior

    def elbo_terms(self, x, num_samples=None, training=False):
        """Returns per-example `(reconstruction, kl)` in nats, each of shape (batch,).

        Args:
            x: tensor of inputs (batch, *data_shape).
            num_samples: int or None, default None (the model's `num_samples`).
            training: bool, default False.
        """
        num_samples = num_samples or self.num_samples
        z, log_q, posterior = self._posterior_draws(x, num_samples, training=training)
        prior = self.prior_distribution(z.dtype)
        log_likelihood = self.log_likelihood(x, z, training=training)
        reconstruction = ops.mean(log_likelihood, axis=0)
        kl = self._kl(posterior, prior, z, log_q)
        return reconstruction, kl

    @staticmethod
    def _kl(posterior, prior, z, log_q):
        if log_q is None:
            return objectives.kl_divergence(posterior, prior, z)
        return ops.mean(log_q - prior.log_prob(z), axis=0)  # Monte Carlo at the draws

    def objective_terms(self, x, training=False):
        """Returns `(loss, reconstruction, kl)`: the scalar training loss and per-example ELBO terms.

        The loss follows `objective`, `beta` and `free_bits`; reconstruction and
        kl, each of shape (batch,), are the unclamped ELBO terms.
        """
        z, log_q, posterior = self._posterior_draws(x, self.num_samples, training=training)
        prior = self.prior_distribution(z.dtype)
        log_likelihood = self.log_likelihood(x, z, training=training)
        reconstruction = ops.mean(log_likelihood, axis=0)
        kl = self._kl(posterior, prior, z, log_q)
        if self.objective == "iwae":
            if log_q is None:
                log_weights = objectives.log_importance_weights(log_likelihood, z, posterior, prior)
            else:
                log_weights = log_likelihood + prior.log_prob(z) - log_q
            loss = -ops.mean(objectives.importance_weighted_bound(log_weights))
        else:
            if self.free_bits > 0:
                kl_per_dim = ops.mean(per_dimension_kl(posterior, prior, z), axis=0)  # (latent_dim,)
                kl_term = ops.sum(ops.maximum(kl_per_dim, ops.cast(self.free_bits, kl_per_dim.dtype)))
            else:
                kl_term = ops.mean(kl)
            loss = -ops.mean(reconstruction) + ops.cast(self.beta, kl.dtype) * kl_term
        return loss, reconstruction, kl

    def log_likelihood(self, x, z, training=False):
        """Returns log p(x|z) of shape (L, batch) for z of shape (L, batch, latent_dim)."""
        parameters = self.decoder(ops.reshape(z, (-1, self.latent_dim)), training=training)
        parameters = ops.reshape(parameters, (ops.shape(z)[0], -1) + tuple(parameters.shape[1:]))
        distribution = self.likelihood.distribution(parameters, event_ndims=len(self.data_shape))
        return distribution.log_prob(x)

    # Training ---------------------------------------------------------------------

    @property
    def metrics(self):
        return [self.loss_tracker, self.elbo_tracker, self.reconstruction_tracker, self.kl_tracker]

    def train_step(self, data):
        x = self._unpack_inputs(data)
        with tf.GradientTape() as tape:
            loss, reconstruction, kl = self.objective_terms(x, training=True)
            if self.losses:
                loss = loss + ops.sum(self.losses)
            # Under tf.distribute the optimizer sums the replicas' gradients (see the helper).
            scaled_loss = scale_loss_for_replicas(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        return self._update_metrics(loss, reconstruction, kl)

    def test_step(self, data):
        x = self._unpack_inputs(data)
        loss, reconstruction, kl = self.objective_terms(x, training=False)
        return self._update_metrics(loss, reconstruction, kl)

    def _update_metrics(self, loss, reconstruction, kl):
        self.loss_tracker.update_state(loss)
        self.elbo_tracker.update_state(reconstruction - kl)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return step_outputs({m.name: m.result() for m in self.metrics})

    # Input checks -----------------------------------------------------------------

    def _require_built(self):
        if not self.built or self.latent_dim is None:
            raise ValueError("The model is not built yet; call `model.build((None, *data_shape))` or fit it first.")

    # Serialization ----------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "likelihood": keras.saving.serialize_keras_object(self.likelihood),
                "prior": keras.saving.serialize_keras_object(self.prior),
                "posterior": keras.saving.serialize_keras_object(self.posterior),
                "beta": float(keras.ops.convert_to_numpy(self.beta)),
                "num_samples": self.num_samples,
                "seed": self.seed,
                "objective": self.objective,
                "free_bits": self.free_bits,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "likelihood", "prior", "posterior"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
