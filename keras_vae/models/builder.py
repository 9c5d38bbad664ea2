"""Builds the standard encoder/decoder pairs into a `VAE` from a few names."""

from keras_vae.likelihoods import get_likelihood
from keras_vae.models.vae import VAE
from keras_vae.networks.conv import ConvDecoder, ConvEncoder
from keras_vae.networks.mlp import MLPDecoder, MLPEncoder

ARCHITECTURES = {"mlp": (MLPEncoder, MLPDecoder), "conv": (ConvEncoder, ConvDecoder)}


def _network_pair(data_shape, architecture, latent_dim, likelihood):
    # Checks the names and sizes once for every kind of model, before anything is built.
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
    encoder = encoder_class(latent_dim=latent_dim, name="encoder")
    decoder = decoder_class(output_shape=output_shape, name="decoder")
    return data_shape, encoder, decoder, likelihood


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
    prior=None,
    posterior=None,
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
        prior: str, Prior or None, default None (N(0, I)). "standard_normal", "mixture" or "vamp".
        posterior: str, Posterior or None, default None ("diagonal"). "diagonal", "full_covariance"
            or "iaf".

    Example:
    >>> model = build_vae((28, 28, 1), architecture="conv", latent_dim=8)
    >>> model.latent_dim
    8
    """
    data_shape, encoder, decoder, likelihood = _network_pair(data_shape, architecture, latent_dim, likelihood)
    model = VAE(
        encoder,
        decoder,
        likelihood=likelihood,
        beta=beta,
        num_samples=num_samples,
        seed=seed,
        objective=objective,
        free_bits=free_bits,
        prior=prior,
        posterior=posterior,
    )
    model.build((None,) + data_shape)
    return model


MODEL_KINDS = ("vae", "cvae", "ae", "dae")


def build_model(
    kind,
    data_shape,
    architecture="mlp",
    latent_dim=32,
    likelihood="bernoulli",
    num_classes=None,
    noise_std=0.2,
    mask_probability=0.0,
    seed=None,
    **vae_kwargs,
):
    """Returns a built model of `kind`: "vae", "cvae" (ConditionalVAE), "ae" or "dae".

    Args:
        kind: str. One of `MODEL_KINDS`.
        data_shape: sequence of int. Shape of one example.
        architecture: str, default "mlp". "mlp" or "conv" (conv needs images (H, W, C)).
        latent_dim: int, default 32. Size of z (the code of an autoencoder).
        likelihood: str or Likelihood, default "bernoulli".
        num_classes: int or None. Classes of a "cvae"'s label condition (required there).
        noise_std: float, default 0.2. Gaussian corruption of a "dae".
        mask_probability: float, default 0.0. Masking corruption of a "dae".
        seed: int or None, default None.
        **vae_kwargs: `build_vae` arguments for "vae" and "cvae" (beta, num_samples,
            objective, free_bits, prior, posterior).

    Example:
    >>> build_model("dae", (8, 8, 1), latent_dim=2, noise_std=0.3).noise_std
    0.3
    """
    if kind not in MODEL_KINDS:
        raise ValueError(f"Unknown model {kind!r}; choose one of {list(MODEL_KINDS)}.")
    if kind == "vae":
        return build_vae(data_shape, architecture, latent_dim, likelihood, seed=seed, **vae_kwargs)
    data_shape, encoder, decoder, likelihood = _network_pair(data_shape, architecture, latent_dim, likelihood)
    if kind == "cvae":
        from keras_vae.models.conditional_vae import ConditionalVAE

        if num_classes is None:
            raise ValueError("A conditional VAE needs labels: pass num_classes (data with class labels).")
        model = ConditionalVAE(
            encoder, decoder, num_classes=num_classes, encoder_mode="channels" if architecture == "conv" else "concat",
            likelihood=likelihood, seed=seed, **{k: v for k, v in vae_kwargs.items() if v is not None},
        )
    elif kind == "ae":
        from keras_vae.models.autoencoder import Autoencoder

        model = Autoencoder(encoder, decoder, likelihood=likelihood, seed=seed)
    else:
        from keras_vae.models.denoising_autoencoder import DenoisingAutoencoder

        model = DenoisingAutoencoder(
            encoder, decoder, likelihood=likelihood, noise_std=noise_std, mask_probability=mask_probability, seed=seed
        )
    model.build((None,) + data_shape)
    return model
