"""A wrapper that conditions any encoder or decoder on a vector by concatenation."""

import math

import keras
from keras import ops

CONDITION_MODES = ("concat", "channels")


@keras.saving.register_keras_serializable(package="keras_vae")
class ConditionalNetwork(keras.layers.Layer):
    """Feeds `network` its input joined with a condition vector c (a one-hot label or any features).

    Called on a pair `(inputs, condition)` with condition of shape (batch, d):

    - `mode="concat"` flattens the inputs to (batch, F) and concatenates c:
      (batch, F + d). For `MLPEncoder` on images and for decoders (z is flat).
    - `mode="channels"` tiles c over the spatial axes of images (batch, H, W, C)
      and appends it as d extra channels: (batch, H, W, C + d). For `ConvEncoder`.

    The output is the wrapped network's output, unchanged.

    Args:
        network: keras Layer, the encoder or decoder to condition.
        mode: str, default "concat". One of `CONDITION_MODES`.
        condition_dim: int or None, default None. Size d of c; lets `build` and
            `compute_output_shape` take the input's shape alone (else pass the
            pair of shapes).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> from keras_vae.networks.mlp import MLPDecoder
    >>> decoder = ConditionalNetwork(MLPDecoder(output_shape=(4,)))
    >>> tuple(decoder((np.zeros((3, 2)), np.eye(3))).shape)
    (3, 4)
    """

    def __init__(self, network, mode="concat", condition_dim=None, **kwargs):
        super().__init__(**kwargs)
        if mode not in CONDITION_MODES:
            raise ValueError(f"Unknown condition mode {mode!r}; choose one of {list(CONDITION_MODES)}.")
        self.network = network
        self.mode = mode
        self.condition_dim = None if condition_dim is None else int(condition_dim)

    def _joined_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if input_shape and isinstance(input_shape[0], (tuple, list)):
            shape, condition_shape = (tuple(s) for s in input_shape)
        elif self.condition_dim is not None:
            shape, condition_shape = input_shape, (input_shape[0], self.condition_dim)
        else:
            raise ValueError("Pass the shapes of (inputs, condition), or construct with condition_dim.")
        d = condition_shape[-1]
        if self.mode == "channels":
            if len(shape) != 4:
                raise ValueError(f"mode='channels' needs images (batch, H, W, C), got {shape}; use mode='concat'.")
            return shape[:-1] + (shape[-1] + d,)
        return (shape[0], math.prod(shape[1:]) + d)

    def build(self, input_shape):
        if not self.network.built:
            self.network.build(self._joined_shape(input_shape))
        self.built = True

    def call(self, inputs, training=None):
        x, condition = inputs
        condition = ops.cast(condition, x.dtype)
        if self.mode == "channels":
            # zeros (B, H, W, 1) + c (B, 1, 1, d) broadcasts c over every pixel: builtin ops only.
            tiled = ops.zeros_like(x[..., :1]) + condition[:, None, None, :]
            joined = ops.concatenate([x, tiled], axis=-1)
        else:
            flat = ops.reshape(x, (-1, math.prod(x.shape[1:])))
            joined = ops.concatenate([flat, condition], axis=-1)
        return self.network(joined, training=training)

    def compute_output_shape(self, input_shape):
        return self.network.compute_output_shape(self._joined_shape(input_shape))

    def get_config(self):
        config = super().get_config()
        config.update({"network": keras.saving.serialize_keras_object(self.network), "mode": self.mode,
                       "condition_dim": self.condition_dim})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)
