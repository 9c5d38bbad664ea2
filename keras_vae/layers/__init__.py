"""Keras layers of keras_vae."""

from keras_vae.layers.sampling import Sampling

__all__ = ["Sampling"]
