"""keras_vae: variational autoencoders for Keras 3 on TensorFlow."""

from keras_vae import native_logs as _native_logs

# Before anything imports TensorFlow, whose import logs from C++: the `keras-vae` command hides
# those lines unless --verbose (a no-op in any other program).
_native_logs.install_for_command_line()

from keras_vae.layers.sampling import Sampling
from keras_vae.likelihoods import (
    Bernoulli,
    ContinuousBernoulli,
    DiscretizedLogistic,
    Gaussian,
    HeteroscedasticGaussian,
    Likelihood,
    get_likelihood,
)
from keras_vae.models.autoencoder import Autoencoder
from keras_vae.models.conditional_vae import ConditionalVAE
from keras_vae.models.denoising_autoencoder import DenoisingAutoencoder
from keras_vae.models.vae import VAE
from keras_vae.networks.conditional import ConditionalNetwork
from keras_vae.networks.conv import ConvDecoder, ConvEncoder
from keras_vae.networks.mlp import MLPDecoder, MLPEncoder
from keras_vae.posteriors import (
    DiagonalGaussian,
    FullCovarianceGaussian,
    InverseAutoregressiveFlow,
    Posterior,
    get_posterior,
)
from keras_vae.priors import MixtureOfGaussians, Prior, StandardNormal, VampPrior, get_prior

__version__ = "0.1.0"

__all__ = [
    "ContinuousBernoulli",
    "DiagonalGaussian",
    "DiscretizedLogistic",
    "FullCovarianceGaussian",
    "HeteroscedasticGaussian",
    "InverseAutoregressiveFlow",
    "MixtureOfGaussians",
    "Posterior",
    "VampPrior",
    "get_posterior",
    "Autoencoder",
    "Bernoulli",
    "ConditionalNetwork",
    "ConditionalVAE",
    "ConvDecoder",
    "ConvEncoder",
    "DenoisingAutoencoder",
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
