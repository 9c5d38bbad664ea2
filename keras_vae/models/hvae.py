"""The hierarchical VAE with two stochastic layers of Tomczak and Welling (2018, VampPrior)."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from keras_vae import objectives
from keras_vae.layers.noise import stateless_seed
from keras_vae.models.capabilities import BOUND, POSTERIOR, PRIOR
from keras_vae.models.vae import VAE
from keras_vae.networks.conditional import ConditionalNetwork
from keras_vae.networks.mlp import MLPEncoder

tfd = tfp.distributions


def _diagonal_normal(mean, log_var):
    return tfd.Independent(tfd.Normal(loc=mean, scale=ops.exp(0.5 * log_var)), 1)


@keras.saving.register_keras_serializable(package="keras_vae")
class HierarchicalVAE(VAE):
    """VAE with two stochastic layers z1, z2 (the VampPrior paper's HVAE and ConvHVAE).

    Generative model and approximate posterior, every conditional a diagonal Gaussian
    (p(x|z1, z2) the likelihood):

        p(x, z1, z2) = p(x | z1, z2) p(z1 | z2) p(z2)        p(z2): N(0, I) or a VampPrior
        q(z1, z2 | x) = q(z1 | x, z2) q(z2 | x)

    The model's latent is z = [z1, z2] (`latent_dim` = 2 x the encoder's size): `embed`
    gives [E q(z1|x, z2=E q(z2|x)), E q(z2|x)], `decode(z)` is E[x | z1, z2] and `sample`
    draws z2 ~ p(z2), z1 ~ p(z1|z2). `bound_terms` gives the same `objectives.BoundTerms`
    as the VAE, with

        log p(z) = log p(z1 | z2) + log p(z2),    log q(z | x) = log q(z1 | x, z2) + log q(z2 | x),

    so the ELBO, the IWAE bound and `evaluation.importance_sampled_log_likelihood` are the
    package's single implementation. No closed-form KL exists (p(z1|z2) and q(z1|x, z2)
    depend on the draw of z2, a VampPrior is a mixture): the KL is the Monte Carlo mean
    of log q(z|x) - log p(z) over the draws. The noise eps per draw is (2 x size,): the
    first half makes z1, the second z2.

    Args:
        encoder: Gaussian encoder of q(z2 | x), `(z_mean, z_log_var)` of size d.
        decoder: keras Layer mapping [z1, z2] (batch, 2d) to the likelihood's parameters.
        likelihood: str, dict or Likelihood, default "bernoulli".
        prior: str, dict, Prior or None, default None (N(0, I)). p(z2); "vamp" uses `encoder`.
        beta: float, default 1.0. Weight of the KL term in the loss (a warm-up changes it).
        num_samples: int, default 1. Draws per input (K for "iwae").
        seed: int or None, default None.
        objective: str, default "elbo". "elbo" or "iwae".
        z1_encoder: keras Layer mapping `(x, z2)` to `(z_mean, z_log_var)` of q(z1 | x, z2), or
            None: a copy of `encoder`'s architecture seeing z2 joined to x (`ConditionalNetwork`).
        z1_prior: keras Layer mapping z2 to `(z_mean, z_log_var)` of p(z1 | z2), or None: an
            `MLPEncoder` with the encoder's hidden units and activation.
        encoder_mode: str, default "concat". How the default `z1_encoder` joins z2 to x:
            "concat" (flat inputs) or "channels" (images; z2 as extra channels).
        **kwargs: standard `keras.Model` arguments (`name`).

    Example:
    >>> from keras_vae.models import build_model
    >>> model = build_model("hvae", (28, 28, 1), latent_dim=4, seed=0)
    >>> model.latent_dim, tuple(model.sample(2, seed=0).shape)
    (8, (2, 28, 28, 1))
    """

    capabilities = frozenset({PRIOR, BOUND})
    nested_config_keys = ("encoder", "decoder", "likelihood", "prior", "z1_encoder", "z1_prior")
    option_names = ("beta", "num_samples", "objective", "prior")

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
        z1_encoder=None,
        z1_prior=None,
        encoder_mode="concat",
        **kwargs,
    ):
        super().__init__(
            encoder, decoder, likelihood=likelihood, prior=prior, beta=beta, num_samples=num_samples, seed=seed,
            objective=objective, **kwargs,
        )
        self.encoder_mode = encoder_mode
        size = getattr(encoder, "latent_dim", None)
        if (z1_encoder is None or z1_prior is None) and size is None:
            raise ValueError(
                "HierarchicalVAE builds its default z1 networks from the encoder's latent_dim; pass an "
                "encoder with a latent_dim attribute, or z1_encoder and z1_prior."
            )
        if z1_encoder is None:
            config = dict(encoder.get_config(), name="z1_encoder_network")
            z1_encoder = ConditionalNetwork(type(encoder).from_config(config), mode=encoder_mode, name="z1_encoder")
        if z1_prior is None:
            config = encoder.get_config()
            hidden = config.get("hidden_units", (256,))
            hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
            z1_prior = MLPEncoder(
                latent_dim=size, hidden_units=hidden, activation=config.get("activation", "relu"), name="z1_prior"
            )
        self.z1_encoder = z1_encoder
        self.z1_prior = z1_prior
        self.layer_dim = None

    # What `decoder_metadata.json` tells a device (export.family.prior_description): p(z1|z2) is a
    # network the TFLite decoder does not contain, so p(z2)'s parameters alone would mislead.
    prior_how_to_sample = (
        "z = [z1, z2] (latent_dim values, z1 first): z2 ~ p(z2), then z1 ~ N(mu(z2), diag(exp(log_var(z2)))) "
        "from the model's p(z1|z2) network, which the TFLite decoder does not contain: draw z with the "
        "SavedModel's sample signature (or HierarchicalVAE.prior_latents) and decode it"
    )

    # Building ---------------------------------------------------------------------

    def latent_size(self, code_dim):
        self.layer_dim = int(code_dim)
        return 2 * self.layer_dim

    def build_parts(self):
        d = self.layer_dim
        if not self.sampling.built:
            self.sampling.build([(None, self.latent_dim), (None, self.latent_dim)])
        if not self.posterior.built:
            self.posterior.build((None, d))
        if not self.prior.built:
            self.prior.build((None, d), data_shape=self.data_shape)
        if not self.z1_encoder.built:
            self.z1_encoder.build(((None,) + tuple(self.data_shape), (None, d)))
        if not self.z1_prior.built:
            self.z1_prior.build((None, d))

    # The contract -----------------------------------------------------------------

    def _z1_posterior(self, x, z2, training=False):
        """Returns (mean, log_var) of q(z1 | x, z2), each (L, batch, d), for z2 of shape (L, batch, d)."""
        num_draws, batch = ops.shape(z2)[0], ops.shape(z2)[1]
        data_shape = tuple(self.data_shape)
        x_tiled = ops.reshape(ops.broadcast_to(x[None], (num_draws, batch) + data_shape), (-1,) + data_shape)
        mean, log_var = self.z1_encoder((x_tiled, ops.reshape(z2, (-1, self.layer_dim))), training=training)
        shape = (num_draws, batch, self.layer_dim)
        return ops.reshape(mean, shape), ops.reshape(log_var, shape)

    def _z1_prior(self, z2, training=False):
        """Returns (mean, log_var) of p(z1 | z2) for z2 of shape (..., d), shaped like z2."""
        mean, log_var = self.z1_prior(ops.reshape(z2, (-1, self.layer_dim)), training=training)
        shape = ops.shape(z2)
        return ops.reshape(mean, shape), ops.reshape(log_var, shape)

    def _encoding(self, x, condition_vector, training=False):
        # q(z2|x) and q(z1|x, z2) at z2 = its mean: the deterministic encoding of x.
        mean2, log_var2 = self.encoder(x, training=training)
        mean1, log_var1 = self.z1_encoder((x, mean2), training=training)
        return ops.concatenate([mean1, mean2], axis=-1), ops.concatenate([log_var1, log_var2], axis=-1)

    def embedding(self, x, condition_vector, training=False):
        return self._encoding(x, condition_vector, training)[0]

    def encode(self, x, condition=None):
        """Returns `(z_mean, z_log_var)` (batch, 2d) of [q(z1|x, z2), q(z2|x)] at z2 = E q(z2|x)."""
        return self._encoding(self._as_inputs(x), self.condition_vector(condition, "encode"))

    def named_encoding(self, x, condition_vector):
        z_mean, z_log_var = self._encoding(x, condition_vector)
        return {"z_mean": z_mean, "z_log_var": z_log_var}

    def prior_distribution(self, dtype=None):
        """Returns p(z2), the top layer's prior, as a tfd distribution over (d,)."""
        self._require_built()
        dtype = dtype or self.compute_dtype
        if getattr(self.prior, "needs_encoder", False):
            return self.prior.distribution(self.layer_dim, dtype=dtype, encoder=self.encoder)
        return self.prior.distribution(self.layer_dim, dtype=dtype)

    def prior_latents(self, n, seed, stream=0):
        """Returns `n` draws z = [z1, z2], z2 ~ p(z2), z1 ~ p(z1|z2), (n, 2d), from the seed `[stream, seed]`."""
        self._require_built()
        key = stateless_seed(seed, stream)
        z2 = self.prior_distribution(self.compute_dtype).sample(n, seed=key)
        mean1, log_var1 = self._z1_prior(z2)
        # z1's noise from its own stream, folded from the same key so one seed fixes both layers.
        eps = tf.random.stateless_normal(
            ops.shape(mean1), seed=tf.random.experimental.stateless_fold_in(key, 1), dtype=mean1.dtype
        )
        return ops.concatenate([mean1 + ops.exp(0.5 * log_var1) * eps, z2], axis=-1)

    def posterior_distribution(self, x, condition=None, training=False):
        """Not available: q(z1, z2 | x) is no single tfd distribution (the model has no POSTERIOR)."""
        self._require(POSTERIOR, "posterior_distribution")

    # The bound ----------------------------------------------------------------------

    def encode_for_bound(self, x, condition_vector=None, training=False):
        """Returns `(z_mean, z_log_var)` of q(z2 | x), reused across draws."""
        return self.encoder(x, training=training)

    def bound_terms(self, x, eps, condition_vector=None, training=False, encoded=None):
        """Returns `objectives.BoundTerms` at the draws z_l = [z1_l, z2_l] made from eps_l.

        z2 = mu2(x) + sigma2(x) * eps[..., d:], z1 = mu1(x, z2) + sigma1(x, z2) * eps[..., :d];
        log p(z) = log p(z1|z2) + log p(z2), log q(z|x) = log q(z1|x, z2) + log q(z2|x);
        no analytic KL (None).

        Args:
            x: float tensor (batch, *data_shape).
            eps: float tensor (L, batch, 2d) of N(0, 1) noise.
            condition_vector: None (the model is unconditional).
            training: bool, default False.
            encoded: `encode_for_bound(x)` computed already, or None.
        """
        d = self.layer_dim
        mean2, log_var2 = encoded if encoded is not None else self.encode_for_bound(x, condition_vector, training)
        z2 = mean2 + ops.exp(0.5 * log_var2) * eps[..., d:]
        log_q2 = _diagonal_normal(mean2, log_var2).log_prob(z2)
        mean1, log_var1 = self._z1_posterior(x, z2, training)
        z1 = mean1 + ops.exp(0.5 * log_var1) * eps[..., :d]
        log_q1 = _diagonal_normal(mean1, log_var1).log_prob(z1)
        prior_mean1, prior_log_var1 = self._z1_prior(z2, training)
        log_p1 = _diagonal_normal(prior_mean1, prior_log_var1).log_prob(z1)
        log_p2 = self.prior_distribution(z2.dtype).log_prob(z2)
        z = ops.concatenate([z1, z2], axis=-1)
        return objectives.BoundTerms(
            log_likelihood=self.log_likelihood(x, z, condition_vector, training=training),
            log_prior=log_p1 + log_p2,
            log_posterior=log_q1 + log_q2,
            analytic_kl=None,
            z=z,
            posterior=None,
            prior=None,
        )

    # Building from parts and serialization -------------------------------------------

    @classmethod
    def from_parts(cls, encoder, decoder, likelihood="bernoulli", seed=None, architecture="mlp", **options):
        """As `GenerativeModel.from_parts`; with a conv encoder q(z1|x, z2) sees z2 as extra image channels."""
        own = {name: options[name] for name in cls.option_names if options.get(name) is not None}
        mode = "channels" if architecture == "conv" else "concat"
        return cls(encoder, decoder, likelihood=likelihood, seed=seed, encoder_mode=mode, **own)

    def get_config(self):
        config = super().get_config()
        for name in ("posterior", "free_bits"):  # the VAE's options this kind does not take
            config.pop(name, None)
        config.update(
            {
                "z1_encoder": keras.saving.serialize_keras_object(self.z1_encoder),
                "z1_prior": keras.saving.serialize_keras_object(self.z1_prior),
                "encoder_mode": self.encoder_mode,
            }
        )
        return config
