"""Keras models of keras_vae."""

from keras_vae.models.autoencoder import Autoencoder
from keras_vae.models.builder import (
    ARCHITECTURES,
    MODEL_KINDS,
    build_model,
    build_vae,
    model_kind_name,
    register_model_kind,
)
from keras_vae.models.capabilities import BOUND, CLASSIFY, EXACT, POSTERIOR, PRIOR, ConditionSpec
from keras_vae.models.conditional_vae import ConditionalVAE
from keras_vae.models.denoising_autoencoder import DenoisingAutoencoder
from keras_vae.models.semi_supervised_vae import SemiSupervisedVAE
from keras_vae.models.generative_model import GenerativeModel
from keras_vae.models.hvae import HierarchicalVAE
from keras_vae.models.glow import Glow
from keras_vae.models.realnvp import RealNVP
from keras_vae.models.vae import VAE

__all__ = [
    "ARCHITECTURES",
    "BOUND",
    "CLASSIFY",
    "EXACT",
    "MODEL_KINDS",
    "POSTERIOR",
    "PRIOR",
    "Autoencoder",
    "ConditionSpec",
    "ConditionalVAE",
    "DenoisingAutoencoder",
    "GenerativeModel",
    "Glow",
    "HierarchicalVAE",
    "RealNVP",
    "SemiSupervisedVAE",
    "VAE",
    "build_model",
    "build_vae",
    "model_kind_name",
    "register_model_kind",
]
