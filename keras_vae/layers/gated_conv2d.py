"""The gated convolution of Tomczak and Welling (2018, VampPrior)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_vae")
class GatedConv2D(keras.layers.Layer):
    """Gated convolution: h = (W1 * x + b1) * sigmoid(W2 * x + b2), * the 2-D convolution.

    The convolutional form of `GatedDense` (Tomczak and Welling 2018). With
    `transposed=True` both branches are transposed convolutions (for decoders that
    upsample).

    Args:
        filters: int. Output channels (of each branch).
        kernel_size: int or pair of int, default 3.
        strides: int or pair of int, default 1.
        padding: str, default "same". "same" or "valid".
        transposed: bool, default False. Use `Conv2DTranspose` branches.
        activation: str or None, default None. Keras activation of the linear branch.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> tuple(GatedConv2D(4, strides=2)(np.zeros((2, 8, 8, 1), "float32")).shape)
    (2, 4, 4, 4)
    """

    def __init__(self, filters, kernel_size=3, strides=1, padding="same", transposed=False, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        if self.filters < 1:
            raise ValueError(f"GatedConv2D needs a positive number of filters, got {filters}.")
        self.kernel_size = kernel_size if isinstance(kernel_size, int) else tuple(int(k) for k in kernel_size)
        self.strides = strides if isinstance(strides, int) else tuple(int(s) for s in strides)
        self.padding = padding
        self.transposed = bool(transposed)
        self.activation = activation
        conv = keras.layers.Conv2DTranspose if self.transposed else keras.layers.Conv2D
        options = {"kernel_size": self.kernel_size, "strides": self.strides, "padding": padding}
        self.linear = conv(self.filters, activation=activation, name="linear", **options)
        self.gate = conv(self.filters, activation="sigmoid", name="gate", **options)

    def build(self, input_shape):
        self.linear.build(input_shape)
        self.gate.build(input_shape)

    def call(self, inputs):
        return ops.multiply(self.linear(inputs), self.gate(inputs))

    def compute_output_shape(self, input_shape):
        return self.linear.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "transposed": self.transposed,
                "activation": self.activation,
            }
        )
        return config


def conv_or_gated(filters, activation, name, transposed=False, kernel_size=3, strides=2, padding="same"):
    """Returns a `GatedConv2D` when `activation == "gated"`, else a (transposed) Keras convolution."""
    if activation == "gated":
        return GatedConv2D(filters, kernel_size, strides=strides, padding=padding, transposed=transposed, name=name)
    conv = keras.layers.Conv2DTranspose if transposed else keras.layers.Conv2D
    return conv(filters, kernel_size, strides=strides, padding=padding, activation=activation, name=name)
