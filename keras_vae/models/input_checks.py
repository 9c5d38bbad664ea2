"""Checks every keras_vae model applies to its data before any work: dtype, NaN/inf, support, shape."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops


class InputChecks:
    """Mixin for a `keras.Model` with `data_shape`, `latent_dim` and `likelihood` attributes.

    `fit` and `evaluate` check NumPy data before Keras sees it and build the model
    from the data's shape (the custom steps never call the model, so Keras would
    not build it before tracing them); the steps check tensors with
    `_unpack_inputs` while tracing, before any update. Put it before
    `keras.Model` in the bases: `class VAE(InputChecks, keras.Model)`.
    """

    def fit(self, x=None, y=None, *args, **kwargs):
        self.check_array(x)
        self.check_array(kwargs.get("validation_data"))
        self._build_for(x)
        if isinstance(x, tf.data.Dataset):
            # A dataset shuffles itself; Keras would only warn that it ignores shuffle=True.
            kwargs.setdefault("shuffle", False)
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self.check_array(x)
        self._build_for(x)
        return super().evaluate(x, y, *args, **kwargs)

    def _build_for(self, x):
        if self.built and self.latent_dim is not None:
            return
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            spec = spec[0] if isinstance(spec, (tuple, list)) else spec
            shape = tuple(spec.shape)
        elif isinstance(x, (tuple, list)) and x:
            shape = (None,) + tuple(np.shape(x[0]))[1:]
        elif x is not None:
            shape = (None,) + tuple(np.shape(x))[1:]
        else:
            raise ValueError("Build the model first with `model.build((None, *data_shape))` for this input.")
        if any(d is None for d in shape[1:]):
            raise ValueError(
                f"Cannot infer the data shape from {shape}; call `model.build((None, *data_shape))` first."
            )
        self.build((None,) + shape[1:])

    def check_array(self, x):
        """Raises a clear error for NumPy data the model cannot train on.

        Checks dtype (numeric floats), finiteness, the likelihood's support and,
        for a built model, the shape. Tensors and datasets are checked in the step.

        Args:
            x: the data as given to `fit` (an array, an `(x, y)` tuple, or anything else, which is skipped).
        """
        if isinstance(x, (tuple, list)) and x:
            x = x[0]
        if not isinstance(x, np.ndarray):
            return
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise TypeError(f"Data must be a numeric array, got dtype {x.dtype}; convert it to float32.")
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(
                f"Data has integer dtype {x.dtype}; convert images to float32 in [0, 1], e.g. "
                "`x.astype('float32') / 255`."
            )
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        if bad:
            raise ValueError(f"Data contains {bad} NaN or infinite values; remove or repair them before training.")
        self._check_shape(x.shape)
        support = self.likelihood.support
        if support is not None and x.size:
            low, high = float(x.min()), float(x.max())
            if low < support[0] or high > support[1]:
                raise ValueError(
                    f"Data lies in [{low:g}, {high:g}] but a {type(self.likelihood).__name__} likelihood "
                    f"needs values in [{support[0]:g}, {support[1]:g}]; scale the data (uint8 images: divide "
                    "by 255) or choose another likelihood."
                )

    def _check_shape(self, shape):
        if self.data_shape is None:
            return
        given = tuple(shape[1:])
        if len(given) != len(self.data_shape) or any(
            g is not None and g != e for g, e in zip(given, self.data_shape)
        ):
            raise ValueError(
                f"This model was built for inputs of shape {self.data_shape} but got {given}; resize the "
                "data or build a new model for this shape."
            )

    def _unpack_inputs(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if not x.dtype.is_floating:
            raise TypeError(
                f"Inputs have dtype {x.dtype.name}; the model needs floats (images: cast and divide by 255)."
            )
        self._check_shape(tuple(x.shape))
        return x

    def _as_inputs(self, x):
        x = ops.convert_to_tensor(x)
        if not x.dtype.is_floating:
            raise TypeError(f"Inputs have dtype {x.dtype.name}; pass floats (images: in [0, 1]).")
        self._check_shape(tuple(x.shape))
        return ops.cast(x, self.compute_dtype)
