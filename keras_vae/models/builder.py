"""Builds the standard encoder/decoder pairs into a model of any registered kind from a few names."""

from keras_vae.likelihoods import get_likelihood
from keras_vae.models.autoencoder import Autoencoder
from keras_vae.models.conditional_vae import ConditionalVAE
from keras_vae.models.denoising_autoencoder import DenoisingAutoencoder
from keras_vae.models.generative_model import GenerativeModel
from keras_vae.models.semi_supervised_vae import SemiSupervisedVAE
from keras_vae.models.glow import Glow
from keras_vae.models.realnvp import RealNVP
from keras_vae.models.hvae import HierarchicalVAE
from keras_vae.models.vae import VAE
from keras_vae.networks.conv import ConvDecoder, ConvEncoder
from keras_vae.networks.mlp import MLPDecoder, MLPEncoder

ARCHITECTURES = {"mlp": (MLPEncoder, MLPDecoder), "conv": (ConvEncoder, ConvDecoder)}


def _network_arguments(architecture, activation=None, hidden_units=None):
    # activation ("relu", "gated", ...) and one width for every hidden layer: the MLP keeps its
    # two hidden layers, the conv pair its dense layer.
    arguments = {} if activation is None else {"activation": activation}
    if hidden_units is not None:
        if int(hidden_units) < 1:
            raise ValueError(f"hidden_units must be a positive integer, got {hidden_units}.")
        arguments["hidden_units"] = (int(hidden_units),) * 2 if architecture == "mlp" else int(hidden_units)
    return arguments


def _network_pair(data_shape, architecture, latent_dim, likelihood, network_options=None):
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
    arguments = _network_arguments(architecture, **(network_options or {}))
    encoder = encoder_class(latent_dim=latent_dim, name="encoder", **arguments)
    decoder = decoder_class(output_shape=output_shape, name="decoder", **arguments)
    return data_shape, encoder, decoder, likelihood


def build_vae(data_shape, architecture="mlp", latent_dim=32, likelihood="bernoulli", seed=None, **options):
    """Returns a built `VAE` with a standard encoder/decoder pair.

    Args:
        data_shape: sequence of int. Shape of one example, e.g. (28, 28, 1).
        architecture: str, default "mlp". One of `ARCHITECTURES` ("mlp", "conv").
        latent_dim: int, default 32. Size of z.
        likelihood: str or Likelihood, default "bernoulli".
        seed: int or None, default None. Seed of the sampling noise.
        **options: the `VAE` constructor's own arguments: beta (float, default 1.0, the KL
            weight), num_samples (int, default 1, Monte Carlo samples per input), objective
            ("elbo" or "iwae"), free_bits (float, default 0.0, per-dimension KL floor in nats),
            prior ("standard_normal", "mixture", "vamp" or a Prior; None: N(0, I)), posterior
            ("diagonal", "full_covariance", "iaf" or a Posterior; None: diagonal).

    Example:
    >>> model = build_vae((28, 28, 1), architecture="conv", latent_dim=8)
    >>> model.latent_dim
    8
    """
    return build_model("vae", data_shape, architecture, latent_dim, likelihood, seed=seed, **options)


#: The model kinds `build_model` and `keras-vae train --model` know, by name. A new kind is one
#: module (its `GenerativeModel` subclass, registered with Keras) plus one entry here
#: (`register_model_kind`); nothing else names kinds.
MODEL_KINDS = {
    "vae": VAE,
    "cvae": ConditionalVAE,
    "ae": Autoencoder,
    "dae": DenoisingAutoencoder,
    "m2": SemiSupervisedVAE,
    "realnvp": RealNVP,
    "glow": Glow,
    "hvae": HierarchicalVAE,
}


def register_model_kind(name, model_class):
    """Makes `model_class` (a `GenerativeModel` subclass) buildable as `build_model(name, ...)`.

    Args:
        name: str. The kind's name (`keras-vae train --model NAME`).
        model_class: class. Its `from_parts` builds it from an encoder/decoder pair.

    Example:
    >>> register_model_kind("vae", VAE)  # the built-in kinds are registered already
    """
    if not (isinstance(model_class, type) and issubclass(model_class, GenerativeModel)):
        raise TypeError(f"A model kind must be a GenerativeModel subclass, got {model_class!r}.")
    MODEL_KINDS[str(name)] = model_class


def model_kind_name(model):
    """Returns the registered name of `model`'s kind ("vae", "cvae", ...); ValueError for others.

    Example:
    >>> model_kind_name(build_model("dae", (4,), latent_dim=2))
    'dae'
    """
    for name, model_class in MODEL_KINDS.items():
        if type(model) is model_class:
            return name
    raise ValueError(
        f"{type(model).__name__} is no registered model kind ({sorted(MODEL_KINDS)}); register it with "
        "keras_vae.models.builder.register_model_kind."
    )


def build_model(
    kind,
    data_shape,
    architecture="mlp",
    latent_dim=32,
    likelihood="bernoulli",
    seed=None,
    network_options=None,
    **options,
):
    """Returns a built model of a registered kind: "vae", "cvae" (ConditionalVAE), "ae", "dae", ...

    The kind's `from_parts` receives the standard encoder/decoder pair and takes the
    options that are its own (a cvae's num_classes, a dae's noise_std, a VAE's beta, ...);
    options another kind would take are ignored, None means "the kind's default".

    Args:
        kind: str. A key of `MODEL_KINDS`.
        data_shape: sequence of int. Shape of one example.
        architecture: str, default "mlp". "mlp" or "conv" (conv needs images (H, W, C)).
        latent_dim: int, default 32. Size of z (the code of an autoencoder).
        likelihood: str or Likelihood, default "bernoulli".
        seed: int or None, default None.
        network_options: dict or None, default None. The networks' "activation" (a Keras
            activation, or "gated" for the gated units of Tomczak and Welling 2018) and
            "hidden_units" (int, the width of every hidden layer); None keeps their defaults.
        **options: the kinds' own constructor arguments: num_classes ("cvae", required
            there), noise_std and mask_probability ("dae"), beta, num_samples, objective,
            free_bits, prior, posterior ("vae", "cvae").

    Example:
    >>> build_model("dae", (8, 8, 1), latent_dim=2, noise_std=0.3).noise_std
    0.3
    """
    if kind not in MODEL_KINDS:
        raise ValueError(f"Unknown model {kind!r}; choose one of {list(MODEL_KINDS)}.")
    known = {name for model_class in MODEL_KINDS.values() for name in model_class.option_names}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"Unknown model option(s) {unknown}; the model kinds take {sorted(known)}.")
    data_shape, encoder, decoder, likelihood = _network_pair(
        data_shape, architecture, latent_dim, likelihood, network_options
    )
    model = MODEL_KINDS[kind].from_parts(encoder, decoder, likelihood=likelihood, seed=seed, architecture=architecture, **options)
    model.build((None,) + data_shape)
    return model
