"""Keras models of keras_vae."""

from keras_vae.models.autoencoder import Autoencoder
from keras_vae.models.builder import ARCHITECTURES, MODEL_KINDS, build_model, build_vae
from keras_vae.models.conditional_vae import ConditionalVAE
from keras_vae.models.denoising_autoencoder import DenoisingAutoencoder
from keras_vae.models.vae import VAE

__all__ = [
    "ARCHITECTURES",
    "MODEL_KINDS",
    "Autoencoder",
    "ConditionalVAE",
    "DenoisingAutoencoder",
    "VAE",
    "build_model",
    "build_vae",
]
