"""LatentFlowSampler: a small RealNVP-style flow fitted on a trained VAE's posterior means, to sample z.

A VAE's decoder sees codes from the aggregate posterior q(z) = E_x q(z|x), which is rarely the
prior N(0, I): regions the prior covers but no image's code reaches decode to blurry mixtures.
Fitting a flow to the posterior means {E[z|x_i]} and drawing z from it instead of N(0, I) samples
where the decoder was trained (a "two-stage" or ex-post density estimation of the latent space).

The flow works on vectors z (latent_dim >= 2) seen as 1 x 1 images with latent_dim channels:
K steps of ActNorm, an LU 1x1 convolution (a full learned linear mix of the dimensions) and a
channel affine coupling (`keras_vae.flows.layers`), on a standard normal base.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from keras_vae.flows.layers import ActNorm, AffineCoupling, InvertibleConv1x1
from keras_vae.layers.noise import stateless_seed


@keras.saving.register_keras_serializable(package="keras_vae")
class LatentFlowSampler(keras.Model):
    """A flow density on latent vectors, trained with `fit(z)` by maximum likelihood; `sample(n, seed)`.

    Args:
        latent_dim: int (>= 2). Size of z.
        steps: int, default 4. Flow steps.
        hidden_channels: int, default 64. Width of the coupling networks (1x1 convolutions here).
        seed: int, default 0. Seeds the 1x1 convolutions' start.

    Example:
    >>> sampler = LatentFlowSampler(2, steps=2, hidden_channels=8)
    >>> tuple(sampler.sample(5, seed=0).shape)  # fit(z) first: sampler.compile(...); sampler.fit(codes)
    (5, 2)
    """

    def __init__(self, latent_dim, steps=4, hidden_channels=64, seed=0, **kwargs):
        super().__init__(**kwargs)
        if int(latent_dim) < 2:
            raise ValueError(f"LatentFlowSampler needs latent_dim >= 2 (a coupling splits z in two), got {latent_dim}.")
        if int(steps) < 1 or int(hidden_channels) < 1:
            raise ValueError(f"steps and hidden_channels must be >= 1, got {steps} and {hidden_channels}.")
        self.latent_dim, self.steps, self.hidden_channels, self.seed = int(latent_dim), int(steps), int(hidden_channels), int(seed)
        shape = (None, 1, 1, self.latent_dim)
        self.flow_layers = []
        for step in range(self.steps):
            for layer in (
                ActNorm(name=f"actnorm{step}"),
                InvertibleConv1x1(seed=self.seed * 100 + step, name=f"invconv{step}"),
                AffineCoupling("channel", parity=step % 2, hidden_channels=self.hidden_channels,
                               channels=self.latent_dim, name=f"coupling{step}"),
            ):
                layer.build(shape)
                self.flow_layers.append(layer)
        self.nll_tracker = keras.metrics.Mean(name="nll")

    def log_prob(self, z, training=False):
        """Returns log q(z) per row (nats) under the fitted flow, for z (batch, latent_dim)."""
        h = tf.reshape(tf.cast(z, "float32"), (-1, 1, 1, self.latent_dim))
        log_det = tf.zeros(tf.shape(h)[:1])
        for layer in self.flow_layers:
            h, step = layer.forward(h, training=training)
            log_det += step
        base = tf.reduce_sum(tfp.distributions.Normal(0.0, 1.0).log_prob(h), axis=[1, 2, 3])
        return base + log_det

    def sample(self, n, seed=0, temperature=1.0):
        """Returns n draws z ~ q(z) (the base's std times `temperature`), (n, latent_dim)."""
        h = temperature * tf.random.stateless_normal((int(n), 1, 1, self.latent_dim), seed=stateless_seed(seed))
        for layer in reversed(self.flow_layers):
            h = layer.inverse(h)
        return tf.reshape(h, (-1, self.latent_dim))

    def call(self, z, training=False):
        return self.log_prob(z, training=training)

    @property
    def metrics(self):
        return [self.nll_tracker]

    def train_step(self, data):
        z, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(self.log_prob(z, training=True))
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        self.nll_tracker.update_state(loss)
        return {"nll": self.nll_tracker.result()}

    def test_step(self, data):
        z, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        self.nll_tracker.update_state(-tf.reduce_mean(self.log_prob(z)))
        return {"nll": self.nll_tracker.result()}

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "steps": self.steps,
                "hidden_channels": self.hidden_channels, "seed": self.seed}


def fit_latent_sampler(vae, images, steps=4, hidden_channels=64, epochs=20, batch_size=256, learning_rate=1e-3, seed=0):
    """Returns a `LatentFlowSampler` fitted on `vae`'s embeddings (posterior means) of `images`.

    Sample images with `vae.decode(sampler.sample(n, seed))` instead of `vae.sample(n, seed)`.
    """
    codes = vae.embed(images)
    sampler = LatentFlowSampler(int(codes.shape[-1]), steps=steps, hidden_channels=hidden_channels, seed=seed)
    sampler.compile(optimizer=keras.optimizers.Adam(learning_rate))
    sampler.fit(codes, epochs=epochs, batch_size=batch_size, verbose=0)
    return sampler


__all__ = ["LatentFlowSampler", "fit_latent_sampler"]
