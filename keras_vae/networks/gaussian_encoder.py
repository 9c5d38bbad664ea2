"""The base of every encoder of q(z|x) = N(mu(x), diag(exp(logvar(x)))): features, one head, a split."""

import keras
from keras import ops

from keras_vae.networks.bounds import bounded_log_var


class GaussianEncoder(keras.layers.Layer):
    """Maps inputs to `(z_mean, z_log_var)`, each (batch, latent_dim), through `features` and a dense head.

    A subclass builds its feature layers, then the head (`self.head = self.make_head()`,
    last, so the variables keep the order that `.keras` files and optimizer states saved
    before this base existed expect), and implements `features(inputs)`; the split into a
    mean and a bounded log-variance (`bounded_log_var`) is here, so every encoder squashes
    its log-variance the same way.

    Args:
        latent_dim: int. Size of z.
        **kwargs: standard `keras.layers.Layer` arguments.
    """

    def __init__(self, latent_dim, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)

    def make_head(self):
        """Returns the dense layer of size 2 * latent_dim that outputs (mean, raw log-variance)."""
        return keras.layers.Dense(2 * self.latent_dim, name="posterior_parameters")

    def features(self, inputs):
        """Returns the (batch, features) tensor the head reads."""
        raise NotImplementedError

    def call(self, inputs):
        z_mean, raw_log_var = ops.split(self.head(self.features(inputs)), 2, axis=-1)
        return z_mean, bounded_log_var(raw_log_var)

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0], self.latent_dim)
        return shape, shape
