"""Convolutional encoder and decoder for images of any size."""

import keras
from keras import ops

from keras_vae.layers.gated_conv2d import conv_or_gated
from keras_vae.layers.gated_dense import dense_or_gated
from keras_vae.networks.gaussian_encoder import GaussianEncoder


@keras.saving.register_keras_serializable(package="keras_vae")
class ConvEncoder(GaussianEncoder):
    """Maps images (H, W, C) to the mean and log-variance of q(z|x).

    Each entry of `filters` adds a 3x3 convolution with stride 2 (padding "same"),
    so the spatial size is halved (rounded up) per layer; a dense layer of size
    `hidden_units` and a final dense layer of size `2 * latent_dim` follow.

    Args:
        latent_dim: int. Size of z.
        filters: sequence of int, default (32, 64). Channels of the strided convolutions.
        hidden_units: int, default 256. Width of the dense layer after the convolutions.
        activation: str, default "relu". Keras activation, or "gated" for `GatedConv2D` and
            `GatedDense` units (Tomczak and Welling 2018).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> z_mean, _ = ConvEncoder(latent_dim=4)(np.zeros((2, 30, 20, 3)))
    >>> tuple(z_mean.shape)
    (2, 4)
    """

    def __init__(self, latent_dim, filters=(32, 64), hidden_units=256, activation="relu", **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.filters = tuple(int(f) for f in filters)
        self.hidden_units = int(hidden_units)
        self.activation = activation
        self.convolutions = [
            conv_or_gated(f, activation, f"conv_{i}") for i, f in enumerate(self.filters)
        ]
        self.flatten = keras.layers.Flatten()
        self.hidden = dense_or_gated(self.hidden_units, activation, "hidden")
        self.head = self.make_head()

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"ConvEncoder expects images of shape (batch, height, width, channels), got {input_shape}."
            )
        shape = tuple(input_shape)
        for layer in self.convolutions:
            layer.build(shape)
            shape = tuple(layer.compute_output_shape(shape))
        flat = shape[1] * shape[2] * shape[3]
        self.hidden.build((shape[0], flat))
        self.head.build((shape[0], self.hidden_units))

    def features(self, inputs):
        h = inputs
        for layer in self.convolutions:
            h = layer(h)
        return self.hidden(self.flatten(h))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "latent_dim": self.latent_dim,
                "filters": list(self.filters),
                "hidden_units": self.hidden_units,
                "activation": self.activation,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_vae")
class ConvDecoder(keras.layers.Layer):
    """Maps z to image-shaped parameters of p(x|z), mirroring `ConvEncoder`.

    A dense layer fills a small feature map of size ceil(H / 2^n) x ceil(W / 2^n);
    n transposed convolutions with stride 2 upsample it, the result is cropped
    to H x W, and a 3x3 convolution gives the output channels.

    Args:
        output_shape: sequence of 3 int. (H, W, channels of the parameters).
        filters: sequence of int, default (64, 32). Channels of the transposed convolutions.
        hidden_units: int, default 256. Width of the first dense layer.
        activation: str, default "relu". Keras activation, or "gated" for `GatedConv2D` and
            `GatedDense` units (Tomczak and Welling 2018).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> ConvDecoder(output_shape=(30, 20, 3))(np.zeros((2, 4))).shape
    TensorShape([2, 30, 20, 3])
    """

    def __init__(self, output_shape, filters=(64, 32), hidden_units=256, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in output_shape)
        if len(self.target_shape) != 3:
            raise ValueError(
                f"ConvDecoder needs output_shape (height, width, channels), got {output_shape}; "
                "use MLPDecoder for flat data."
            )
        self.filters = tuple(int(f) for f in filters)
        self.hidden_units = int(hidden_units)
        self.activation = activation
        height, width, channels = self.target_shape
        factor = 2 ** len(self.filters)
        self.seed_shape = (-(-height // factor), -(-width // factor), self.filters[0] if self.filters else channels)
        self.hidden = dense_or_gated(self.hidden_units, activation, "hidden")
        self.project = dense_or_gated(self.seed_shape[0] * self.seed_shape[1] * self.seed_shape[2], activation, "project")
        self.upsample = [
            conv_or_gated(f, activation, f"deconv_{i}", transposed=True) for i, f in enumerate(self.filters)
        ]
        self.head = keras.layers.Conv2D(channels, 3, padding="same", name="likelihood_parameters")

    def build(self, input_shape):
        self.hidden.build(tuple(input_shape))
        self.project.build((input_shape[0], self.hidden_units))
        shape = (input_shape[0],) + self.seed_shape
        for layer in self.upsample:
            layer.build(shape)
            shape = tuple(layer.compute_output_shape(shape))
        self.head.build(shape[:1] + self.target_shape[:2] + shape[3:])

    def call(self, inputs):
        h = self.project(self.hidden(inputs))
        h = ops.reshape(h, (-1,) + self.seed_shape)
        for layer in self.upsample:
            h = layer(h)
        height, width, _ = self.target_shape
        return self.head(h[:, :height, :width, :])

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.target_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "output_shape": list(self.target_shape),
                "filters": list(self.filters),
                "hidden_units": self.hidden_units,
                "activation": self.activation,
            }
        )
        return config
