"""keras_vae: variational autoencoders for Keras 3 on TensorFlow."""

from keras_vae.layers.sampling import Sampling
from keras_vae.likelihoods import Bernoulli, Gaussian, Likelihood, get_likelihood
from keras_vae.models.vae import VAE
from keras_vae.networks.conv import ConvDecoder, ConvEncoder
from keras_vae.networks.mlp import MLPDecoder, MLPEncoder
from keras_vae.priors import Prior, StandardNormal, get_prior

__version__ = "0.1.0"

__all__ = [
    "Bernoulli",
    "ConvDecoder",
    "ConvEncoder",
    "Gaussian",
    "Likelihood",
    "MLPDecoder",
    "MLPEncoder",
    "Prior",
    "Sampling",
    "StandardNormal",
    "VAE",
    "get_likelihood",
    "get_prior",
]
