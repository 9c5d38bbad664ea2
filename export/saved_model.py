"""SavedModel export of any keras_vae model in TF Serving layout (`base_dir/<name>/<version>/`).

The signatures are the model's own (`model.export_endpoints()`, defined for every kind in
`keras_vae.models.signatures`), all under the "serve" tag, with named inputs and outputs
and a `None` batch dimension. For a VAE:

    serving_default  same as `reconstruct` (added first, so ExportArchive makes it the default)
    reconstruct      images (B, *data_shape) float32   -> reconstruction: E[x|z] at z = posterior mean
    encode           images                            -> z_mean, z_log_var (B, latent_dim)
    decode           z (B, latent_dim) float32         -> Bernoulli: probabilities, logits
                                                          Gaussian: mean         (B, *data_shape)
    sample           seed () int32, count () int32     -> images (count, *data_shape): E[x|z], z ~ p(z);
                                                          0 <= count <= signatures.MAX_SAMPLE_COUNT (10,000) per call
    elbo             images, seed () int32             -> elbo, reconstruction, kl (B,), nats per example

A conditional model's signatures also take the condition ("labels" or "condition"; `sample`
then draws one image per condition); a model without a prior (an autoencoder) has no
`sample`, one without a bound no `elbo`. `reconstruct` is the default because it is the
whole model (images in, images out), the signature a client that names none most
plausibly wants.

Randomness is stateless: `sample` and `elbo` draw their noise with stateless ops from
the `seed` input, so the same seed gives the same outputs, and serving replicas agree.
`sample` draws z exactly as `model.sample(count, seed)` does, so the SavedModel
reproduces the Keras model's samples; `elbo` is a one-sample estimate with
eps = stateless_normal(seed=[0, seed]) through the model's own `bound_terms`.
"""

import os
import re
import shutil

import keras

from keras_vae import atomic
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
    >>> import tempfile
    >>> import tensorflow as tf
    >>> from keras_vae.models.builder import build_model
    >>> path = os.path.join(tempfile.mkdtemp(), "1")
    >>> build_archive(build_model("ae", (4,), latent_dim=2)).write_out(path, verbose=False)
    >>> sorted(tf.saved_model.load(path).signatures)
    ['decode', 'encode', 'reconstruct', 'serving_default']
    """
    require_built(model)
    archive = new_archive(model)
    for endpoint in model.export_endpoints(checks=checks):
        archive.add_endpoint(endpoint.name, endpoint.function, input_signature=endpoint.input_signature)
    return archive


#: What a served model's name may be: one path component (it names the folder `saved_model/<name>/`)
#: of letters, digits, ".", "_" and "-", starting with a letter or digit, so it can neither leave
#: the export (`../x`, `/x`), hide (`.x`) nor look like an option (`-x`).
MODEL_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_model_name(name):
    """Raises ValueError unless `name` is a safe served-model name (`MODEL_NAME_PATTERN`).

    Args:
        name: the --name of an export.

    Example:
    >>> check_model_name("vae")
    >>> check_model_name("../../escape")
    Traceback (most recent call last):
    ...
    ValueError: --name '../../escape' is not a safe model name: ...
    """
    if not isinstance(name, str) or not MODEL_NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"--name {name!r} is not a safe model name: it names the folder saved_model/<name>/ and the model TF "
            "Serving serves, so it must be one path component of 1 to 100 letters, digits, '.', '_' or '-' "
            "starting with a letter or digit (e.g. vae or fashion-vae_2)."
        )


def next_version(model_dir):
    """Returns 1 + the highest integer version directory in `model_dir` (1 when none).

    Example:
    >>> next_version("/nonexistent/models/vae")
    1
    """
    if not os.path.isdir(model_dir):
        return 1
    versions = [int(n) for n in os.listdir(model_dir) if re.fullmatch(r"\d+", n)]
    return max(versions, default=0) + 1


def export_saved_model(model, base_dir, name="vae", version=None, verbose=False):
    """Writes the model as a SavedModel to `base_dir/<name>/<version>/`; returns that path.

    Args:
        model: built keras_vae model of any kind.
        base_dir: str. TF Serving's model base directory.
        name: str, default "vae". The served model's name.
        version: int or None, default None (1 + the highest existing version, 1 for the first).
        verbose: bool, default False. Let ExportArchive print its signature summary.

    Raises:
        ValueError: unbuilt model, unsafe name (`check_model_name`) or invalid version.
        FileExistsError: the version directory exists already (never overwritten).

    Example:
    >>> import tempfile
    >>> import tensorflow as tf
    >>> from keras_vae.models.builder import build_model
    >>> base_dir = tempfile.mkdtemp()
    >>> path = export_saved_model(build_model("vae", (4,), latent_dim=2), base_dir)
    >>> os.path.relpath(path, base_dir), sorted(tf.saved_model.load(path).signatures)
    ('vae/1', ['decode', 'elbo', 'encode', 'reconstruct', 'sample', 'serving_default'])
    """
    require_built(model)
    check_model_name(name)
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

    Written by the protobuf library from tensorflow-serving-api's `ModelServerConfig` message
    (a dependency of keras-vae), so any path is escaped as the text format needs (a quote in --out
    stays inside its string); the names are checked with `check_model_name`.

    Args:
        base_dir: str. Directory holding `<name>/<version>/`.
        names: list of str. The served models' names.
        base_path_prefix: str or None. The base directory as the server sees it; default the absolute `base_dir`.
        model_base_path: str or None. The one model's `base_path` exactly as given, e.g. "/models/vae".
    """
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    if model_base_path is not None and len(names) != 1:
        raise ValueError(f"model_base_path names one model's folder; got {len(names)} models {names}.")
    config = model_server_config_pb2.ModelServerConfig()
    for name in names:
        check_model_name(name)
        base = model_base_path or os.path.join(base_path_prefix or os.path.abspath(base_dir), name)
        config.model_config_list.config.add(name=name, base_path=base, model_platform="tensorflow")
    return text_format.MessageToString(config, as_utf8=True)


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
    >>> import tempfile
    >>> path = write_models_config(tempfile.mkdtemp(), "vae", base_path_prefix="/models")
    >>> print(open(path).read(), end="")
    model_config_list {
      config {
        name: "vae"
        base_path: "/models/vae"
        model_platform: "tensorflow"
      }
    }
    """
    names = [name] if isinstance(name, str) else list(name)
    path = os.path.join(base_dir, "models.config")
    atomic.write_bytes(path, models_config_text(base_dir, names, base_path_prefix, model_base_path).encode("utf-8"))
    return path
