"""Fully connected encoder and decoder."""

import math

import keras
from keras import ops

from keras_vae.layers.gated_dense import dense_or_gated
from keras_vae.networks.gaussian_encoder import GaussianEncoder


@keras.saving.register_keras_serializable(package="keras_vae")
class MLPEncoder(GaussianEncoder):
    """Maps inputs of any shape to the mean and log-variance of q(z|x).

    The input is flattened, passed through `len(hidden_units)` dense layers and
    a final dense layer of size `2 * latent_dim`, split into `(z_mean, z_log_var)`.

    Args:
        latent_dim: int. Size of z.
        hidden_units: sequence of int, default (512, 256). Widths of the hidden layers.
        activation: str, default "relu". Keras activation of the hidden layers, or "gated" for
            `GatedDense` units (Tomczak and Welling 2018).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> z_mean, z_log_var = MLPEncoder(latent_dim=2)(np.zeros((3, 28, 28, 1)))
    >>> tuple(z_mean.shape), tuple(z_log_var.shape)
    ((3, 2), (3, 2))
    """

    def __init__(self, latent_dim, hidden_units=(512, 256), activation="relu", **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.activation = activation
        self.flatten = keras.layers.Flatten()
        self.hidden = [
            dense_or_gated(units, activation, f"hidden_{i}") for i, units in enumerate(self.hidden_units)
        ]
        self.head = self.make_head()

    def build(self, input_shape):
        shape = (input_shape[0], math.prod(input_shape[1:]))
        for layer in self.hidden:
            layer.build(shape)
            shape = (shape[0], layer.units)
        self.head.build(shape)

    def features(self, inputs):
        h = self.flatten(inputs)
        for layer in self.hidden:
            h = layer(h)
        return h

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "latent_dim": self.latent_dim,
                "hidden_units": list(self.hidden_units),
                "activation": self.activation,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_vae")
class MLPDecoder(keras.layers.Layer):
    """Maps z to the parameters of p(x|z), shaped like the data.

    Args:
        output_shape: sequence of int. Shape of one output, e.g. (28, 28, 1) for
            images or (F,) for tabular rows; a likelihood with k parameters per
            value asks for k times the channels (the last axis).
        hidden_units: sequence of int, default (256, 512). Widths of the hidden layers.
        activation: str, default "relu". Keras activation of the hidden layers, or "gated" for
            `GatedDense` units (Tomczak and Welling 2018).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> logits = MLPDecoder(output_shape=(28, 28, 1))(np.zeros((3, 2)))
    >>> tuple(logits.shape)
    (3, 28, 28, 1)
    """

    def __init__(self, output_shape, hidden_units=(256, 512), activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in output_shape)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.activation = activation
        self.hidden = [
            dense_or_gated(units, activation, f"hidden_{i}") for i, units in enumerate(self.hidden_units)
        ]
        self.head = keras.layers.Dense(math.prod(self.target_shape), name="likelihood_parameters")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.hidden:
            layer.build(shape)
            shape = (shape[0], layer.units)
        self.head.build(shape)

    def call(self, inputs):
        h = inputs
        for layer in self.hidden:
            h = layer(h)
        return ops.reshape(self.head(h), (-1,) + self.target_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.target_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "output_shape": list(self.target_shape),
                "hidden_units": list(self.hidden_units),
                "activation": self.activation,
            }
        )
        return config
