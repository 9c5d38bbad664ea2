"""Builds the standard encoder/decoder pairs into a `VAE` from a few names."""

from keras_vae.likelihoods import get_likelihood
from keras_vae.models.vae import VAE
from keras_vae.networks.conv import ConvDecoder, ConvEncoder
from keras_vae.networks.mlp import MLPDecoder, MLPEncoder

ARCHITECTURES = {"mlp": (MLPEncoder, MLPDecoder), "conv": (ConvEncoder, ConvDecoder)}


def build_vae(
    data_shape,
    architecture="mlp",
    latent_dim=32,
    likelihood="bernoulli",
    beta=1.0,
    num_samples=1,
    seed=None,
    objective="elbo",
    free_bits=0.0,
):
    """Returns a built `VAE` with a standard encoder/decoder pair.

    Args:
        data_shape: sequence of int. Shape of one example, e.g. (28, 28, 1).
        architecture: str, default "mlp". One of `ARCHITECTURES` ("mlp", "conv").
        latent_dim: int, default 32. Size of z.
        likelihood: str or Likelihood, default "bernoulli".
        beta: float, default 1.0. KL weight.
        num_samples: int, default 1. Monte Carlo samples per input.
        seed: int or None, default None. Seed of the sampling noise.
        objective: str, default "elbo". "elbo" or "iwae" (K = num_samples).
        free_bits: float, default 0.0. Per-dimension KL floor in nats.

    Example:
    >>> model = build_vae((28, 28, 1), architecture="conv", latent_dim=8)
    >>> model.latent_dim
    8
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {architecture!r}; choose one of {sorted(ARCHITECTURES)}.")
    if int(latent_dim) < 1:
        raise ValueError(f"latent_dim must be a positive integer, got {latent_dim}.")
    data_shape = tuple(int(d) for d in data_shape)
    if architecture == "conv" and len(data_shape) != 3:
        raise ValueError(
            f"The conv architecture needs images (height, width, channels); got shape {data_shape}. "
            "Use architecture='mlp' for flat data."
        )
    likelihood = get_likelihood(likelihood)
    encoder_class, decoder_class = ARCHITECTURES[architecture]
    output_shape = data_shape[:-1] + (likelihood.parameter_channels(data_shape[-1]),)
    model = VAE(
        encoder_class(latent_dim=latent_dim, name="encoder"),
        decoder_class(output_shape=output_shape, name="decoder"),
        likelihood=likelihood,
        beta=beta,
        num_samples=num_samples,
        seed=seed,
        objective=objective,
        free_bits=free_bits,
    )
    model.build((None,) + data_shape)
    return model
