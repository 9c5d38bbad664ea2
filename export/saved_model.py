"""SavedModel export of a VAE in TF Serving layout (`base_dir/<name>/<version>/`).

For a VAE the SavedModel carries five signatures under the "serve" tag, each with named
inputs and outputs and a `None` batch dimension (a ConditionalVAE's take the condition
as well: `keras_vae.export.conditional`; an Autoencoder or DenoisingAutoencoder has
encode, decode and reconstruct only: `keras_vae.export.autoencoder`):

    serving_default  same as `reconstruct` (added first, so ExportArchive makes it the default)
    encode           images (B, *data_shape) float32   -> z_mean, z_log_var (B, latent_dim)
    decode           z (B, latent_dim) float32         -> Bernoulli: probabilities, logits
                                                          Gaussian: mean         (B, *data_shape)
    reconstruct      images                            -> reconstruction: E[x|z] at z = posterior mean
    sample           seed () int32, count () int32     -> images (count, *data_shape): E[x|z], z ~ p(z)
    elbo             images, seed () int32             -> elbo, reconstruction, kl (B,), nats per example

`reconstruct` is the default because it is the whole model (images in, images out),
the signature a client that names none most plausibly wants.

Randomness is stateless: `sample` and `elbo` draw their noise with stateless ops from
the `seed` input, so the same seed gives the same outputs, and serving replicas agree.
`sample` draws z exactly as `VAE.sample(count, seed)` does (tfp with the stateless
seed `[0, seed]`), so the SavedModel reproduces the Keras model's samples.
`elbo` is a one-sample estimate: z = z_mean + exp(z_log_var / 2) * eps with
eps = stateless_normal(seed=[0, seed]) (full-covariance / flow posteriors: z and log q(z|x) from
`model.posterior.sample_and_log_prob` at that eps); reconstruction = log p(x|z); kl is analytic
(closed form KL(q(z|x) || p(z)), Monte Carlo at the same z when no closed form exists).
"""

import os
import re
import shutil

import keras

from keras_vae.models.generative_model import GenerativeModel


def require_built(model):
    """Raises a clear ValueError unless `model` is a built keras_vae model with known shapes."""
    if not isinstance(model, GenerativeModel):
        raise ValueError(
            "keras-vae export handles the models keras-vae train writes (keras_vae GenerativeModel kinds: VAE, "
            f"ConditionalVAE, Autoencoder, DenoisingAutoencoder, ...); got a {type(model).__name__}."
        )
    if not model.built or model.latent_dim is None or model.data_shape is None:
        raise ValueError(
            "Cannot export an unbuilt model: its input shape and latent size are unknown. Build it with "
            "`model.build((None, *data_shape))`, fit it, or load a trained model.keras first."
        )


def new_archive(model):
    """Returns a `keras.export.ExportArchive` tracking the model's variables, ready for endpoints.

    A conditional model's parts are tracked, not the model: saving a tracked model also
    traces its default signature, model(x), which a conditional model rejects for want of
    the condition.
    """
    archive = keras.export.ExportArchive()
    if not model.takes_condition:
        archive.track(model)
        return archive
    for layer in model.layers:
        archive.track(layer)
    return archive


def build_archive(model, checks=True):
    """Returns a `keras.export.ExportArchive` holding the model's own signatures, in its order.

    The kind defines its signatures (`model.export_endpoints()`, see
    `keras_vae.models.signatures`); the first becomes `serving_default`.

    Args:
        model: built keras_vae model of any kind.
        checks: bool, default True. Include shape, NaN/Inf and count checks on the inputs.

    Example:
    >>> build_archive(model).write_out("/tmp/vae/1")  # doctest: +SKIP
    """
    require_built(model)
    archive = new_archive(model)
    for endpoint in model.export_endpoints(checks=checks):
        archive.add_endpoint(endpoint.name, endpoint.function, input_signature=endpoint.input_signature)
    return archive


def next_version(model_dir):
    """Returns 1 + the highest integer version directory in `model_dir` (1 when none)."""
    if not os.path.isdir(model_dir):
        return 1
    versions = [int(n) for n in os.listdir(model_dir) if re.fullmatch(r"\d+", n)]
    return max(versions, default=0) + 1


def export_saved_model(model, base_dir, name="vae", version=None, verbose=False):
    """Writes the model as a SavedModel to `base_dir/<name>/<version>/`; returns that path.

    Args:
        model: built VAE, ConditionalVAE, Autoencoder or DenoisingAutoencoder.
        base_dir: str. TF Serving's model base directory.
        name: str, default "vae". The served model's name.
        version: int or None, default None (1 + the highest existing version, 1 for the first).
        verbose: bool, default False. Let ExportArchive print its signature summary.

    Raises:
        ValueError: unbuilt model or invalid version.
        FileExistsError: the version directory exists already (never overwritten).

    Example:
    >>> path = export_saved_model(model, "/tmp/models")  # doctest: +SKIP
    >>> path  # doctest: +SKIP
    '/tmp/models/vae/1'
    """
    require_built(model)
    model_dir = os.path.join(base_dir, name)
    version = next_version(model_dir) if version is None else int(version)
    if version < 1:
        raise ValueError(f"version must be a positive integer, got {version}.")
    path = os.path.join(model_dir, str(version))
    if os.path.exists(path):
        raise FileExistsError(f"{path} exists already; export versions are never overwritten, choose another.")
    os.makedirs(model_dir, exist_ok=True)
    archive = build_archive(model)
    # Write into a sibling temp dir, then rename: a failed export leaves no half version.
    tmp = os.path.join(model_dir, f".tmp-{version}-{os.getpid()}")
    try:
        archive.write_out(tmp, verbose=verbose)
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def models_config_text(base_dir, names, base_path_prefix=None, model_base_path=None):
    """Returns TF Serving's model config (text proto) serving each of `names` from `base_dir`.

    `model_base_path` (one name only) is the model's `base_path` exactly as given, e.g. "/models/vae".
    """
    if model_base_path is not None and len(names) != 1:
        raise ValueError(f"model_base_path names one model's folder; got {len(names)} models {names}.")
    entries = []
    for name in names:
        base = model_base_path or os.path.join(base_path_prefix or os.path.abspath(base_dir), name)
        entries.append(
            "  config {\n"
            f'    name: "{name}"\n'
            f'    base_path: "{base}"\n'
            '    model_platform: "tensorflow"\n'
            "  }\n"
        )
    return "model_config_list {\n" + "".join(entries) + "}\n"


def write_models_config(base_dir, name="vae", base_path_prefix=None, model_base_path=None):
    """Writes `base_dir/models.config` for `tensorflow_model_server --model_config_file`; returns its path.

    Args:
        base_dir: str. Directory holding `<name>/<version>/`.
        name: str or list of str, default "vae".
        base_path_prefix: str or None. The base directory as the server sees it (e.g. "/models"
            inside a container); default the absolute `base_dir`.
        model_base_path: str or None. The one model's base path as the server sees it (the folder
            holding its version folders, e.g. "/models/vae"); overrides `base_path_prefix`.

    Example:
    >>> write_models_config("/tmp/models", "vae")  # doctest: +SKIP
    '/tmp/models/models.config'
    """
    names = [name] if isinstance(name, str) else list(name)
    path = os.path.join(base_dir, "models.config")
    with open(path, "w", encoding="utf-8") as f:
        f.write(models_config_text(base_dir, names, base_path_prefix, model_base_path))
    return path
