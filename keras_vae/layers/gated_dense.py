"""The gated dense layer of Tomczak and Welling (2018, VampPrior)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_vae")
class GatedDense(keras.layers.Layer):
    """Gated linear unit: h = (W1 x + b1) * sigmoid(W2 x + b2).

    Dauphin et al. (2017)'s gate as Tomczak and Welling (2018) use it in every hidden
    layer of the VampPrior paper's VAEs and HVAEs: the sigmoid branch decides, per unit,
    how much of the linear branch passes.

    Args:
        units: int. Width of the output (of each branch).
        activation: str or None, default None. Keras activation applied to the linear
            branch before the gate (the paper's gated layers use none).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> tuple(GatedDense(5)(np.zeros((3, 4), "float32")).shape)
    (3, 5)
    """

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        if self.units < 1:
            raise ValueError(f"GatedDense needs a positive number of units, got {units}.")
        self.activation = activation
        self.linear = keras.layers.Dense(self.units, activation=activation, name="linear")
        self.gate = keras.layers.Dense(self.units, activation="sigmoid", name="gate")

    def build(self, input_shape):
        self.linear.build(input_shape)
        self.gate.build(input_shape)

    def call(self, inputs):
        return ops.multiply(self.linear(inputs), self.gate(inputs))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "activation": self.activation})
        return config


def dense_or_gated(units, activation, name):
    """Returns a `GatedDense` when `activation == "gated"`, else a `keras.layers.Dense` with that activation.

    The networks' `activation` option goes through here, so "gated" is one more choice of
    hidden unit for every MLP and conv encoder/decoder pair.
    """
    if activation == "gated":
        return GatedDense(units, name=name)
    return keras.layers.Dense(units, activation=activation, name=name)
