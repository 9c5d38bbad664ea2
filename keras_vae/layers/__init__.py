"""Keras layers of keras_vae."""

from keras_vae.layers.gated_conv2d import GatedConv2D
from keras_vae.layers.gated_dense import GatedDense
from keras_vae.layers.sampling import Sampling

__all__ = ["GatedConv2D", "GatedDense", "Sampling"]
