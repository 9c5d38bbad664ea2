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
    sample           seed () int32, count () int32     -> images (count, *data_shape): E[x|z], z ~ p(z);
                                                          0 <= count <= MAX_SAMPLE_COUNT (10,000) per call
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

import tensorflow as tf

from keras_vae import objectives
from keras_vae.likelihoods import Bernoulli
from keras_vae.posteriors import DiagonalGaussian, diagonal_gaussian

SIGNATURES = ("serving_default", "encode", "decode", "reconstruct", "sample", "elbo")
DEFAULT_SIGNATURE = "reconstruct"
# The most images one call of the `sample` signature draws: a larger count would exhaust a
# server's memory (10**9 28x28 images are 3 TB), so it fails with a clear error instead.
MAX_SAMPLE_COUNT = 10_000


def require_built(model):
    """Raises a clear ValueError unless `model` is a built keras_vae model (`family.KINDS`) with known shapes."""
    from keras_vae.export.family import model_kind

    model_kind(model)  # a foreign model fails here, with the kinds we export named
    if not getattr(model, "built", False) or getattr(model, "latent_dim", None) is None or getattr(
        model, "data_shape", None
    ) is None:
        raise ValueError(
            "Cannot export an unbuilt model: its input shape and latent size are unknown. Build it with "
            "`model.build((None, *data_shape))`, fit it, or load a trained model.keras first."
        )


def _check_finite(x, what):
    # CheckNumerics is cheap and turns silent NaN outputs into an error naming the input.
    return tf.debugging.assert_all_finite(x, f"{what} contain NaN or infinite values; repair the request.")


def checked(x, what, checks=True):
    """Returns a float signature input with its shape and values checked (when `checks`).

    The signature's TensorSpec is not enforced when a loaded signature is called, so a
    wrong shape would fail deep inside the network; EnsureShape names the input instead.
    """
    if not checks:
        return x
    x = tf.ensure_shape(x, (None,) + tuple(x.shape[1:]), name=f"check_{what}_shape")
    return _check_finite(x, what)


def stateless_elbo_terms(model, images, seed, condition=None):
    """Returns per-example `(elbo, reconstruction, kl)` with noise from a stateless seed.

    One-sample estimate: z = z_mean + exp(z_log_var / 2) * eps, eps ~ N(0, I) drawn by
    `tf.random.stateless_normal(seed=[0, seed])` (full-covariance / flow posteriors: z and
    log q(z|x) from `model.posterior.sample_and_log_prob` at that eps); reconstruction =
    log p(x|z) summed over pixels; kl = KL(q(z|x) || p(z)) against the model's own prior,
    analytic when tfp has a closed form, else Monte Carlo at z. All in nats.

    Args:
        model: built VAE or ConditionalVAE.
        images: float tensor (batch, *data_shape).
        seed: int or int32 scalar tensor.
        condition: float tensor (batch, condition_dim) or None. A ConditionalVAE's
            condition vectors (one-hot labels): q(z|x, c) and p(x|z, c).

    Example:
    >>> elbo, rec, kl = stateless_elbo_terms(model, x, seed=0)  # doctest: +SKIP
    """
    images = tf.cast(images, model.compute_dtype)
    inputs = images if condition is None else (images, tf.cast(condition, model.compute_dtype))
    z_mean, z_log_var = model.encoder(inputs, training=False)
    seed = tf.stack([tf.constant(0, tf.int32), tf.cast(seed, tf.int32)])
    eps = tf.random.stateless_normal(tf.shape(z_mean), seed=seed, dtype=z_mean.dtype)
    prior = _prior_distribution(model, z_mean.dtype)
    posterior_layer = getattr(model, "posterior", None)
    if posterior_layer is None or isinstance(posterior_layer, DiagonalGaussian):
        z = z_mean + tf.exp(0.5 * z_log_var) * eps
        posterior = diagonal_gaussian(z_mean, z_log_var)
        kl = objectives.kl_divergence(posterior, prior, z[None])
    else:  # full covariance / flow: the model's own draw and log-density, Monte Carlo KL at z
        z, log_q = posterior_layer.sample_and_log_prob(z_mean, z_log_var, eps[None])
        kl = (log_q - prior.log_prob(z))[0]
        z = z[0]
    reconstruction = model.log_likelihood(inputs, z[None], training=False)[0]
    return reconstruction - kl, reconstruction, kl


def _prior_distribution(model, dtype):
    # The model's own p(z) (a VampPrior needs the encoder); older models: the prior layer alone.
    if hasattr(model, "prior_distribution"):
        return model.prior_distribution(dtype)
    return model.prior.distribution(model.latent_dim, dtype=dtype)


def _prior_sample(model, count, seed):
    # Same seed layout as VAE.sample, so both give identical z for the same seed.
    prior = _prior_distribution(model, model.compute_dtype)
    seed = tf.stack([tf.constant(0, tf.int32), tf.math.floormod(tf.cast(seed, tf.int32), 2**31 - 1)])
    return prior.sample(count, seed=seed)


def build_archive(model, checks=True):
    """Returns a `keras.export.ExportArchive` holding the model's signatures (see module docstring).

    Dispatches on the model kind (`keras_vae.export.family.model_kind`).

    Args:
        model: built VAE, ConditionalVAE, Autoencoder or DenoisingAutoencoder.
        checks: bool, default True. Include NaN/Inf input checks (CheckNumerics ops).

    Example:
    >>> build_archive(model).write_out("/tmp/vae/1")  # doctest: +SKIP
    """
    from keras_vae.export.family import model_kind, new_archive

    require_built(model)
    kind = model_kind(model)
    if kind == "cvae":
        # Every signature also takes the condition (see keras_vae.export.conditional).
        from keras_vae.export.conditional import build_conditional_archive

        return build_conditional_archive(model, checks=checks)
    if kind in ("ae", "dae"):
        # No prior: encode, decode and reconstruct only (see keras_vae.export.autoencoder).
        from keras_vae.export.autoencoder import build_autoencoder_archive

        return build_autoencoder_archive(model, checks=checks)
    data_shape = tuple(model.data_shape)
    latent_dim = int(model.latent_dim)
    bernoulli = isinstance(model.likelihood, Bernoulli)
    images_spec = tf.TensorSpec((None,) + data_shape, tf.float32, name="images")
    z_spec = tf.TensorSpec((None, latent_dim), tf.float32, name="z")
    seed_spec = tf.TensorSpec((), tf.int32, name="seed")
    count_spec = tf.TensorSpec((), tf.int32, name="count")

    def maybe_check(x, what):
        return checked(x, what, checks)

    def encode(images):
        images = maybe_check(images, "images")
        z_mean, z_log_var = model.encoder(images, training=False)
        return {"z_mean": z_mean, "z_log_var": z_log_var}

    def decode(z):
        z = maybe_check(z, "z")
        parameters = model.decoder(z, training=False)
        if bernoulli:
            return {"probabilities": model.likelihood.mean(parameters), "logits": parameters}
        return {"mean": model.likelihood.mean(parameters)}

    def reconstruct(images):
        images = maybe_check(images, "images")
        return {"reconstruction": model(images, training=False)}  # E[x|z] at the posterior's point

    def sample(seed, count):
        if checks:
            with tf.control_dependencies([
                tf.debugging.assert_non_negative(count, "count must be >= 0"),
                tf.debugging.assert_less_equal(
                    count, MAX_SAMPLE_COUNT,
                    f"count must be at most {MAX_SAMPLE_COUNT} (MAX_SAMPLE_COUNT) per call; split larger requests "
                    "into several calls with different seeds",
                ),
            ]):
                count = tf.identity(count)
        z = _prior_sample(model, count, seed)
        return {"images": model.likelihood.mean(model.decoder(z, training=False))}

    def elbo(images, seed):
        images = maybe_check(images, "images")
        total, reconstruction, kl = stateless_elbo_terms(model, images, seed)
        return {"elbo": total, "reconstruction": reconstruction, "kl": kl}

    archive = new_archive(model)
    # ExportArchive turns the first endpoint into serving_default.
    archive.add_endpoint("reconstruct", reconstruct, input_signature=[images_spec])
    archive.add_endpoint("encode", encode, input_signature=[images_spec])
    archive.add_endpoint("decode", decode, input_signature=[z_spec])
    archive.add_endpoint("sample", sample, input_signature=[seed_spec, count_spec])
    archive.add_endpoint("elbo", elbo, input_signature=[images_spec, seed_spec])
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


def models_config_text(base_dir, names, base_path_prefix=None):
    """Returns TF Serving's model config (text proto) serving each of `names` from `base_dir`."""
    entries = []
    for name in names:
        base = os.path.join(base_path_prefix or os.path.abspath(base_dir), name)
        entries.append(
            "  config {\n"
            f'    name: "{name}"\n'
            f'    base_path: "{base}"\n'
            '    model_platform: "tensorflow"\n'
            "  }\n"
        )
    return "model_config_list {\n" + "".join(entries) + "}\n"


def write_models_config(base_dir, name="vae", base_path_prefix=None):
    """Writes `base_dir/models.config` for `tensorflow_model_server --model_config_file`; returns its path.

    Args:
        base_dir: str. Directory holding `<name>/<version>/`.
        name: str or list of str, default "vae".
        base_path_prefix: str or None. The base directory as the server sees it (e.g. "/models"
            inside a container); default the absolute `base_dir`.

    Example:
    >>> write_models_config("/tmp/models", "vae")  # doctest: +SKIP
    '/tmp/models/models.config'
    """
    names = [name] if isinstance(name, str) else list(name)
    path = os.path.join(base_dir, "models.config")
    with open(path, "w", encoding="utf-8") as f:
        f.write(models_config_text(base_dir, names, base_path_prefix))
    return path
