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

import tensorflow as tf

from keras_vae.export import family
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


def build_conditional_archive(model, checks=True):
    """Returns a `keras.export.ExportArchive` with the conditional signatures (module docstring).

    Args:
        model: built `ConditionalVAE`.
        checks: bool, default True. NaN/Inf checks on float inputs.

    Example:
    >>> build_conditional_archive(model).write_out("/tmp/cvae/1")  # doctest: +SKIP
    """
    from keras_vae.export.saved_model import _prior_sample, checked, stateless_elbo_terms

    data_shape = tuple(model.data_shape)
    bernoulli = isinstance(model.likelihood, Bernoulli)
    images_spec = tf.TensorSpec((None,) + data_shape, tf.float32, name="images")
    z_spec = tf.TensorSpec((None, int(model.latent_dim)), tf.float32, name="z")
    seed_spec = tf.TensorSpec((), tf.int32, name="seed")
    cond_spec = condition_spec(model)

    def check(x, what):
        return checked(x, what, checks)

    def posterior(images, condition):
        return model.encoder((check(images, "images"), _one_hot(model, condition)), training=False)

    def decoder(z, condition):
        return family.decoder_parameters(model, z, _one_hot(model, condition))

    def reconstruct(images, condition):
        z_mean, z_log_var = posterior(images, condition)
        z = model.posterior.point(z_mean, z_log_var)  # as ConditionalVAE.call: the posterior's point
        return {"reconstruction": model.likelihood.mean(decoder(z, condition))}

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
        total, reconstruction, kl = stateless_elbo_terms(model, images, seed, condition=_one_hot(model, condition))
        return {"elbo": total, "reconstruction": reconstruction, "kl": kl}

    archive = family.new_archive(model)
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
    One variant, converted as `keras_vae.export.tflite.export_tflite_decoders` converts
    each of its four (which the exporter uses for a ConditionalVAE).

    Args:
        model: built `ConditionalVAE`.
        path: str, the .tflite file.
        quantize: None (float32) or "dynamic_int8".

    Raises:
        ValueError: the converted model needs non-builtin (Flex/custom) ops.

    Example:
    >>> export_conditional_tflite_decoder(model, "/tmp/cvae_decoder.tflite")  # doctest: +SKIP
    """
    import tempfile

    from keras_vae.export.tflite import convert_decoder, write_decoder_saved_model

    if quantize not in (None, "dynamic_int8"):
        raise ValueError(f"Unknown quantize {quantize!r}; use None or 'dynamic_int8'.")
    with tempfile.TemporaryDirectory() as tmp:
        write_decoder_saved_model(model, tmp)
        return convert_decoder(tmp, quantize or "float32", path)


def run_conditional_decoder(path, z, condition):
    """Runs a conditional TFLite decoder on float32 z (B, latent_dim) and condition (B, d); returns E[x|z, c].

    Example:
    >>> images = run_conditional_decoder("/tmp/cvae_decoder.tflite", z, np.eye(10)[labels])  # doctest: +SKIP
    """
    from keras_vae.export.tflite import load_interpreter, run_decoder

    return run_decoder(load_interpreter(path), z, condition)
