"""A model kind added the way the model contract says: one module plus a registration.

The Wasserstein autoencoder with the MMD penalty (Tolstikhin et al. 2018, "WAE-MMD"): a
deterministic encoder z = E(x), the decoder's likelihood, and a penalty that pulls the
aggregate distribution of the codes towards the prior p(z) = N(0, I):

    loss = -(1/B) sum_b log p(x_b | E(x_b)) + lambda * MMD^2_k({E(x_b)}, {z'_b}),  z'_b ~ p(z)

with the inverse multiquadratic kernel k(u, v) = C / (C + ||u - v||^2), C = 2 * latent_dim
(the paper's choice for a unit-variance prior) and the unbiased MMD^2 estimator.

It has a prior to sample from (PRIOR) but no bound on log p(x) and no posterior. This file
lives in tests/ because it is the proof that a kind needs nothing else: the tests register
it (`register_model_kind`) and then train, save, sample, plot and export it through the
package's own code, which names no kind.
"""

import keras
import tensorflow as tf
from keras import ops

from keras_vae.layers.noise import stateless_seed
from keras_vae.layers.sampling import Sampling
from keras_vae.models.capabilities import PRIOR
from keras_vae.models.generative_model import GenerativeModel


def imq_mmd_squared(codes, prior_draws):
    """Unbiased MMD^2 between two samples (n, d) under k(u, v) = C / (C + ||u - v||^2), C = 2d.

        MMD^2 = 1/(n(n-1)) sum_{i != j} [k(a_i, a_j) + k(b_i, b_j)] - 2/n^2 sum_{i, j} k(a_i, b_j)
    """
    n = ops.cast(ops.shape(codes)[0], codes.dtype)
    scale = 2.0 * ops.cast(ops.shape(codes)[1], codes.dtype)

    def kernel(u, v):
        squared = ops.sum(ops.square(u[:, None, :] - v[None, :, :]), axis=-1)
        return scale / (scale + squared)

    def off_diagonal_mean(k):
        return (ops.sum(k) - ops.trace(k)) / (n * (n - 1.0))

    return (
        off_diagonal_mean(kernel(codes, codes))
        + off_diagonal_mean(kernel(prior_draws, prior_draws))
        - 2.0 * ops.mean(kernel(codes, prior_draws))
    )


@keras.saving.register_keras_serializable(package="keras_vae_tests")
class WassersteinAutoencoder(GenerativeModel):
    """WAE-MMD: a deterministic autoencoder whose codes are pulled towards N(0, I) by an MMD penalty.

    Args:
        encoder, decoder, likelihood, seed: as for every `GenerativeModel`.
        mmd_weight: float, default 10.0. lambda, the weight of the MMD penalty.
        **kwargs: standard `keras.Model` arguments.
    """

    capabilities = frozenset({PRIOR})
    metric_names = ("loss", "reconstruction", "mmd")
    option_names = ("mmd_weight",)

    def __init__(self, encoder, decoder, likelihood="bernoulli", seed=None, mmd_weight=10.0, **kwargs):
        super().__init__(encoder, decoder, likelihood=likelihood, seed=seed, **kwargs)
        self.mmd_weight = float(mmd_weight)
        self.sampling = Sampling(seed=seed, name="sampling")  # the prior draws of the penalty

    def embedding(self, x, condition_vector, training=False):
        code = self.encoder(self.with_condition(x, condition_vector), training=training)
        return code[0] if isinstance(code, (tuple, list)) else code

    def encode(self, x, condition=None):
        return self.embed(x, condition)

    def named_encoding(self, x, condition_vector):
        return {"z": self.embedding(x, condition_vector)}

    def prior_latents(self, n, seed, stream=0):
        return tf.random.stateless_normal(
            tf.stack([n, self.latent_dim]), seed=stateless_seed(seed, stream), dtype=self.compute_dtype
        )

    def loss_terms(self, x, condition, training=False):
        codes = self.embedding(x, condition, training=training)
        parameters = self.decoder(self.with_condition(codes, condition), training=training)
        reconstruction = self.likelihood.distribution(parameters, event_ndims=len(self.data_shape)).log_prob(x)
        mmd = imq_mmd_squared(codes, self.sampling.noise(ops.shape(codes)))
        loss = -ops.mean(reconstruction) + self.mmd_weight * mmd
        return loss, {"reconstruction": reconstruction, "mmd": mmd}

    def get_config(self):
        config = super().get_config()
        config.update({"mmd_weight": self.mmd_weight})
        return config
