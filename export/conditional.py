"""SavedModel signatures and a TFLite decoder for a `ConditionalVAE`: the condition is an input.

The condition input is named by the model's kind of condition:

    labels     int32 (B,)                  a `num_classes` model (one-hot inside the graph)
    condition  float32 (B, condition_dim)  a `condition_dim` model

Signatures (serve tag; `reconstruct` is also `serving_default`):

    reconstruct  images, <cond>        -> reconstruction: E[x|z, c] at the posterior mean
    encode       images, <cond>        -> z_mean, z_log_var
    decode       z, <cond>             -> Bernoulli: probabilities, logits; Gaussian: mean
    sample       seed () int32, <cond> -> images (B, *data_shape), z ~ p(z) drawn as
                                          `ConditionalVAE.sample(B, seed, ...)` draws it
    elbo         images, <cond>, seed  -> elbo, reconstruction, kl (B,), nats per example

The TFLite decoder takes "z" float32 (B, latent_dim) and "condition" float32
(B, condition_dim): for a class model that is the one-hot label, so the graph has
builtin ops only (concatenation and the decoder's own ops) and no random ops.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_vae import objectives
from keras_vae.likelihoods import Bernoulli


def condition_spec(model, name=None):
    """Returns the `tf.TensorSpec` of the condition input of a conditional model's signatures."""
    if model.num_classes is not None:
        return tf.TensorSpec((None,), tf.int32, name=name or "labels")
    return tf.TensorSpec((None, model.condition_dim), tf.float32, name=name or "condition")


def condition_input_name(model):
    """Returns "labels" (class models) or "condition" (vector models)."""
    return "labels" if model.num_classes is not None else "condition"


def _one_hot(model, condition):
    if model.num_classes is not None:
        return tf.one_hot(tf.cast(condition, tf.int32), model.num_classes, dtype=model.compute_dtype)
    return tf.cast(condition, model.compute_dtype)


def _archive_tracking(model):
    # Track the parts, not the model: saving a tracked model also traces its default
    # signature, model(x), which a conditional model rejects for want of the condition.
    archive = keras.export.ExportArchive()
    for layer in (model.encoder, model.decoder, model.likelihood, model.prior):
        archive.track(layer)
    return archive


def build_conditional_archive(model, checks=True):
    """Returns a `keras.export.ExportArchive` with the conditional signatures (module docstring).

    Args:
        model: built `ConditionalVAE`.
        checks: bool, default True. NaN/Inf checks on float inputs.

    Example:
    >>> build_conditional_archive(model).write_out("/tmp/cvae/1")  # doctest: +SKIP
    """
    from keras_vae.export.saved_model import _check_finite, _prior_sample

    data_shape = tuple(model.data_shape)
    bernoulli = isinstance(model.likelihood, Bernoulli)
    images_spec = tf.TensorSpec((None,) + data_shape, tf.float32, name="images")
    z_spec = tf.TensorSpec((None, int(model.latent_dim)), tf.float32, name="z")
    seed_spec = tf.TensorSpec((), tf.int32, name="seed")
    cond_spec = condition_spec(model)

    def check(x, what):
        return _check_finite(x, what) if checks else x

    def posterior(images, condition):
        return model.encoder((check(images, "images"), _one_hot(model, condition)), training=False)

    def decoder(z, condition):
        return model.decoder((z, _one_hot(model, condition)), training=False)

    def reconstruct(images, condition):
        z_mean, _ = posterior(images, condition)
        return {"reconstruction": model.likelihood.mean(decoder(z_mean, condition))}

    def encode(images, condition):
        z_mean, z_log_var = posterior(images, condition)
        return {"z_mean": z_mean, "z_log_var": z_log_var}

    def decode(z, condition):
        parameters = decoder(check(z, "z"), condition)
        if bernoulli:
            return {"probabilities": model.likelihood.mean(parameters), "logits": parameters}
        return {"mean": model.likelihood.mean(parameters)}

    def sample(seed, condition):
        z = _prior_sample(model, tf.shape(condition)[0], seed)
        return {"images": model.likelihood.mean(decoder(z, condition))}

    def elbo(images, condition, seed):
        images = check(images, "images")
        onehot = _one_hot(model, condition)
        z_mean, z_log_var = model.encoder((images, onehot), training=False)
        eps = tf.random.stateless_normal(tf.shape(z_mean), seed=tf.stack([0, tf.cast(seed, tf.int32)]), dtype=z_mean.dtype)
        z = z_mean + tf.exp(0.5 * z_log_var) * eps
        from keras_vae.posteriors import diagonal_gaussian

        q = diagonal_gaussian(z_mean, z_log_var)
        p = model.prior.distribution(model.latent_dim, dtype=z_mean.dtype)
        reconstruction = model.log_likelihood((images, onehot), z[None], training=False)[0]
        kl = objectives.kl_divergence(q, p, z[None])
        return {"elbo": reconstruction - kl, "reconstruction": reconstruction, "kl": kl}

    archive = _archive_tracking(model)
    archive.add_endpoint("reconstruct", reconstruct, input_signature=[images_spec, cond_spec])
    archive.add_endpoint("encode", encode, input_signature=[images_spec, cond_spec])
    archive.add_endpoint("decode", decode, input_signature=[z_spec, cond_spec])
    archive.add_endpoint("sample", sample, input_signature=[seed_spec, cond_spec])
    archive.add_endpoint("elbo", elbo, input_signature=[images_spec, cond_spec, seed_spec])
    return archive


def export_conditional_tflite_decoder(model, path, quantize=None):
    """Writes a builtin-ops-only TFLite decoder (z, condition) -> E[x|z, c] to `path`; returns `path`.

    Inputs "z" float32 (B, latent_dim) and "condition" float32 (B, condition_dim)
    (one-hot labels for class models); output "probabilities" (Bernoulli) or "mean".

    Args:
        model: built `ConditionalVAE`.
        path: str, the .tflite file.
        quantize: None (float32) or "dynamic_int8".

    Raises:
        ValueError: the converted model needs non-builtin (Flex/custom) ops.

    Example:
    >>> export_conditional_tflite_decoder(model, "/tmp/cvae_decoder.tflite")  # doctest: +SKIP
    """
    import os
    import tempfile

    from keras_vae.export.tflite import non_builtin_ops, output_name

    name = output_name(model)

    def decode(z, condition):
        return {name: model.likelihood.mean(model.decoder((z, condition), training=False))}

    with tempfile.TemporaryDirectory() as tmp:
        archive = _archive_tracking(model)
        archive.add_endpoint(
            "decode",
            decode,
            input_signature=[
                tf.TensorSpec((None, int(model.latent_dim)), tf.float32, name="z"),
                tf.TensorSpec((None, int(model.condition_dim)), tf.float32, name="condition"),
            ],
        )
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["decode"])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize == "dynamic_int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        elif quantize is not None:
            raise ValueError(f"Unknown quantize {quantize!r}; use None or 'dynamic_int8'.")
        flatbuffer = converter.convert()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(flatbuffer)
    bad = non_builtin_ops(path)
    if bad:
        os.remove(path)
        raise ValueError(f"The conditional TFLite decoder needs non-builtin ops {bad}; it would not run on stock LiteRT.")
    return path


def run_conditional_decoder(path, z, condition):
    """Runs a conditional TFLite decoder on float32 z (B, latent_dim) and condition (B, d); returns E[x|z, c].

    Example:
    >>> images = run_conditional_decoder("/tmp/cvae_decoder.tflite", z, np.eye(10)[labels])  # doctest: +SKIP
    """
    from keras_vae.export.tflite import load_interpreter

    interpreter = load_interpreter(path)
    runner = interpreter.get_signature_runner("decode")
    outputs = runner(z=np.asarray(z, "float32"), condition=np.asarray(condition, "float32"))
    return next(iter(outputs.values()))
