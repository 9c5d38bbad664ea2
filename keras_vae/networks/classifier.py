"""A fully connected classifier q(y|x): the network the semi-supervised VAE and its baselines share."""

import keras


@keras.saving.register_keras_serializable(package="keras_vae")
class MLPClassifier(keras.layers.Layer):
    """Maps inputs of any shape to class logits (batch, num_classes).

    The input is flattened and passed through `len(hidden_units)` dense layers and a
    final dense layer of `num_classes` logits; q(y|x) = softmax(logits) is built as a
    `tfd.Categorical(logits=...)` by the model, not here (tensors inside layers).

    Args:
        num_classes: int (>= 2). Number of classes K.
        hidden_units: sequence of int, default (500, 500). Widths of the hidden layers
            (the networks of Kingma et al. 2014 have 500 units per layer).
        activation: str, default "softplus" (the paper's choice).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> tuple(MLPClassifier(num_classes=3)(np.zeros((2, 8, 8, 1))).shape)
    (2, 3)
    """

    def __init__(self, num_classes, hidden_units=(500, 500), activation="softplus", **kwargs):
        super().__init__(**kwargs)
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
        self.num_classes = int(num_classes)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.activation = activation
        self.flatten = keras.layers.Flatten()
        self.hidden = [
            keras.layers.Dense(units, activation=activation, name=f"hidden_{i}")
            for i, units in enumerate(self.hidden_units)
        ]
        self.logits = keras.layers.Dense(self.num_classes, name="logits")

    def build(self, input_shape):
        shape = self.flatten.compute_output_shape(tuple(input_shape))
        for layer in self.hidden:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.logits.build(shape)
        self.built = True

    def call(self, x, training=None):
        h = self.flatten(x)
        for layer in self.hidden:
            h = layer(h, training=training)
        return self.logits(h)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"num_classes": self.num_classes, "hidden_units": list(self.hidden_units), "activation": self.activation}
        )
        return config
