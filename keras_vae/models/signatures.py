"""The SavedModel signatures every model kind serves, built from the model contract alone.

`GenerativeModel.export_endpoints()` returns these; `keras_vae.export.saved_model` adds them
to a `keras.export.ExportArchive` in order (the first becomes `serving_default`). Inputs and
outputs are named, with a `None` batch dimension:

    reconstruct  images (B, *data_shape) float32 [, c]  -> reconstruction: E[x|z, c] at embed(x)
    encode       images [, c]                           -> the kind's `named_encoding`
                                                           (VAE: z_mean, z_log_var; AE: z)
    decode       z (B, latent_dim) float32 [, c]         -> the likelihood's `named_outputs`
                                                           (Bernoulli: probabilities, logits; else mean)
    sample       seed () int32, count () int32          -> images (count, *data_shape)   PRIOR kinds
                 (conditional: seed, c; count = len(c))     E[x|z, c] for z ~ p(z)
    elbo         images [, c], seed () int32             -> elbo, reconstruction, kl (B,)  BOUND kinds
    classify     images                                  -> probabilities (B, K): q(y|x)     CLASSIFY kinds

The condition c of a conditional model is "labels" int32 (B,) for class models (one-hot in
the graph) or "condition" float32 (B, dim) for vector models.

Every kind's `sample` draws through `checked_count` (0 <= count <= MAX_SAMPLE_COUNT, else an
error naming the limit; the images are the kind's `sample_images`), and the signatures that
return a density (`elbo`, a flow's `log_prob`) refuse images outside the likelihood's support
(`checked_in_support`).

Randomness is stateless: `sample` draws z exactly as `model.sample(count, seed)` (the seed
`[0, seed]`, `keras_vae.layers.noise.stateless_seed`) and `elbo` is a one-sample estimate
with eps = stateless_normal(seed=[0, seed]) through the model's own `bound_terms`, so the
same seed gives the same outputs in every serving replica.
"""

import dataclasses
from typing import Callable

import tensorflow as tf

from keras_vae import objectives
from keras_vae.layers.noise import stateless_seed
from keras_vae.models.capabilities import BOUND, CLASSIFY, PRIOR

#: The most images one call of a `sample` signature draws: a larger `count` would exhaust a
#: server's memory (10^9 28x28 images are 3 TB), so it fails with a clear error instead.
MAX_SAMPLE_COUNT = 10_000


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One SavedModel signature: its name, a function of named tensors, and their specs.

    Args:
        name: str. The signature name.
        function: callable taking the inputs in `input_signature` order, returning a dict.
        input_signature: list of `tf.TensorSpec`, each with a name and a `None` batch dim.
    """

    name: str
    function: Callable
    input_signature: list


def checked(x, what, checks=True):
    """Returns a float signature input with its shape and values checked (when `checks`).

    The signature's TensorSpec is not enforced when a loaded signature is called, so a
    wrong shape would fail deep inside the network; EnsureShape names the input instead,
    and CheckNumerics turns silent NaN outputs into an error naming the input.
    """
    if not checks:
        return x
    x = tf.ensure_shape(x, (None,) + tuple(x.shape[1:]), name=f"check_{what}_shape")
    return tf.debugging.assert_all_finite(x, f"{what} contain NaN or infinite values; repair the request.")


def condition_input_spec(model):
    """Returns the `tf.TensorSpec` of a conditional model's condition input ("labels" or "condition")."""
    if model.num_classes is not None:
        return tf.TensorSpec((None,), tf.int32, name="labels")
    return tf.TensorSpec((None, int(model.condition_dim)), tf.float32, name="condition")


def stateless_elbo_terms(model, images, seed, condition_vector=None):
    """Returns per-example `(elbo, reconstruction, kl)` in nats, one draw from a stateless seed.

    eps ~ N(0, I) of shape (1, batch, noise_dim) from `tf.random.stateless_normal` with the
    seed `[0, seed]`, mapped to z and log q(z|x) by the model's `bound_terms`; the KL is
    analytic where tfp has it, else Monte Carlo at z (`objectives.elbo_terms`).

    Args:
        model: built model with the BOUND capability.
        images: float tensor (batch, *data_shape).
        seed: int or int32 scalar tensor.
        condition_vector: float tensor (batch, dim) or None.
    """
    images = tf.cast(images, model.compute_dtype)
    encoded = model.encode_for_bound(images, condition_vector)
    batch = tf.shape(images)[0]
    eps = tf.random.stateless_normal(
        tf.stack([batch, model.noise_dim]), seed=stateless_seed(seed), dtype=model.compute_dtype
    )
    terms = model.bound_terms(images, eps[None], condition_vector, encoded=encoded)
    reconstruction, kl = objectives.elbo_terms(terms)
    return reconstruction - kl, reconstruction, kl


def checked_count(count, checks=True):
    """Returns the `sample` signature's count, checked to lie in [0, MAX_SAMPLE_COUNT] (when `checks`).

    Every kind's `sample` signature draws through this check (`sample_endpoint`), so a
    negative or huge count is refused with this message before any work.

    Args:
        count: int32 scalar tensor. The images one call asks for.
        checks: bool, default True.
    """
    if not checks:
        return count
    with tf.control_dependencies(
        [
            tf.debugging.assert_non_negative(count, "count must be >= 0"),
            tf.debugging.assert_less_equal(
                count,
                tf.constant(MAX_SAMPLE_COUNT, tf.int32),
                f"count must be at most {MAX_SAMPLE_COUNT} (MAX_SAMPLE_COUNT) per call; split larger requests "
                "into several calls with different seeds",
            ),
        ]
    ):
        return tf.identity(count)


def checked_in_support(model, x, what="images", checks=True):
    """Returns `checked(x)` also checked to lie in the support of the model's likelihood (when it has one).

    A density of values outside the data's range (a flow's or a Bernoulli's pixels at 5.0)
    is a finite number with no meaning; the signatures that return densities refuse them.

    Args:
        model: built model whose `likelihood.support` is None or (low, high).
        x: float tensor (batch, *data_shape).
        what: str, default "images". The input's name in the messages.
        checks: bool, default True.
    """
    x = checked(x, what, checks)
    support = model.likelihood.support
    if not checks or support is None:
        return x
    low, high = (float(bound) for bound in support)
    message = (
        f"{what} must lie in [{low:g}, {high:g}], the range of the data this model was trained on (8-bit images: "
        "divide by 255); repair the request"
    )
    with tf.control_dependencies(
        [
            tf.debugging.assert_greater_equal(x, tf.constant(low, x.dtype), message),
            tf.debugging.assert_less_equal(x, tf.constant(high, x.dtype), message),
        ]
    ):
        return tf.identity(x)


def sample_endpoint(model, checks=True):
    """Returns the `sample` signature (seed, count) -> images of an unconditional PRIOR kind.

    The count is checked by `checked_count`; the images are the kind's `sample_images`.

    Args:
        model: built unconditional model with the PRIOR capability.
        checks: bool, default True.
    """

    def sample(seed, count):
        return {"images": model.sample_images(checked_count(count, checks), seed)}

    specs = [tf.TensorSpec((), tf.int32, name="seed"), tf.TensorSpec((), tf.int32, name="count")]
    return Endpoint("sample", sample, specs)


def standard_endpoints(model, checks=True):
    """Returns the signatures of the module docstring for `model`, `reconstruct` first.

    Args:
        model: built `GenerativeModel` of any kind.
        checks: bool, default True. Shape, NaN/Inf and count checks on the inputs.
    """
    images_spec = tf.TensorSpec((None,) + tuple(model.data_shape), tf.float32, name="images")
    z_spec = tf.TensorSpec((None, int(model.latent_dim)), tf.float32, name="z")
    seed_spec = tf.TensorSpec((), tf.int32, name="seed")
    conditional = model.takes_condition

    def condition_vector(condition):
        if model.num_classes is not None:
            return tf.one_hot(tf.cast(condition, tf.int32), model.num_classes, dtype=model.compute_dtype)
        return tf.cast(checked(condition, "condition", checks), model.compute_dtype)

    def decode_parameters(z, vector):
        return model.decoder_parameters(z, vector)

    # Each signature is written once, for a condition vector that is None without a condition.
    def reconstruct(images, vector=None):
        z = model.embedding(checked(images, "images", checks), vector)
        return {"reconstruction": model.likelihood.mean(decode_parameters(z, vector))}

    def encode(images, vector=None):
        return model.named_encoding(checked(images, "images", checks), vector)

    def decode(z, vector=None):
        return model.likelihood.named_outputs(decode_parameters(checked(z, "z", checks), vector))

    def sample(seed, count, vector=None):
        return {"images": model.sample_images(checked_count(count, checks), seed, vector)}

    def elbo(images, seed, vector=None):
        images = checked_in_support(model, images, "images", checks)
        total, reconstruction, kl = stateless_elbo_terms(model, images, seed, vector)
        return {"elbo": total, "reconstruction": reconstruction, "kl": kl}

    def classify(images):
        logits = model.class_logits(checked(images, "images", checks), training=False)
        return {"probabilities": tf.nn.softmax(logits, axis=-1)}

    classify_endpoints = [Endpoint("classify", classify, [images_spec])] if model.can(CLASSIFY) else []

    if not conditional:
        endpoints = [
            Endpoint("reconstruct", reconstruct, [images_spec]),
            Endpoint("encode", encode, [images_spec]),
            Endpoint("decode", decode, [z_spec]),
        ]
        if model.can(PRIOR):
            endpoints.append(sample_endpoint(model, checks))
        if model.can(BOUND):
            endpoints.append(Endpoint("elbo", elbo, [images_spec, seed_spec]))
        return endpoints + classify_endpoints

    cond_spec = condition_input_spec(model)
    endpoints = [
        Endpoint("reconstruct", lambda images, c: reconstruct(images, condition_vector(c)), [images_spec, cond_spec]),
        Endpoint("encode", lambda images, c: encode(images, condition_vector(c)), [images_spec, cond_spec]),
        Endpoint("decode", lambda z, c: decode(z, condition_vector(c)), [z_spec, cond_spec]),
    ]
    if model.can(PRIOR):
        endpoints.append(
            Endpoint("sample", lambda seed, c: sample(seed, tf.shape(c)[0], condition_vector(c)), [seed_spec, cond_spec])
        )
    if model.can(BOUND):
        endpoints.append(
            Endpoint(
                "elbo", lambda images, c, seed: elbo(images, seed, condition_vector(c)), [images_spec, cond_spec, seed_spec]
            )
        )
    return endpoints + classify_endpoints
