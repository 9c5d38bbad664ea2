"""Keras models of keras_vae."""

from keras_vae.models.builder import ARCHITECTURES, build_vae
from keras_vae.models.vae import VAE

__all__ = ["ARCHITECTURES", "VAE", "build_vae"]
