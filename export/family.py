"""What the export does differently for each model kind `keras-vae train --model` writes.

    vae   VAE                  signatures encode, decode, reconstruct, sample, elbo; the decoder
                               takes z; latent draws come from the model's own prior p(z)
    cvae  ConditionalVAE       the same signatures, each also taking the condition ("labels" int32
                               (B,) or "condition" float32 (B, d)); the TFLite decoder takes z and
                               the float condition (one-hot labels)
    ae    Autoencoder          encode (images -> z), decode, reconstruct (serving_default) only:
    dae   DenoisingAutoencoder  no prior, so no `sample` and no `elbo` signature

Everything else (the atomic write, the TFLite conversion, the report) is shared and asks
this module for the kind's decoder inputs, its latent draws and its calibration data.

Latents for an autoencoder: it has no prior, and the run directory holds no data, so the
draws that stand in for "typical codes" are built from the model alone (`autoencoder_codes`):
decode z0 ~ N(0, I), encode the images (codes of images the decoder makes, on the encoder's
side of the model's own image manifold), then draw from a diagonal Gaussian with those
codes' per-dimension mean and standard deviation (the empirical latent scale, which for an
AE is arbitrary and often far from 1). Given real calibration images, their codes are used
instead: they are exactly what reconstruction feeds the decoder.
"""

import numpy as np
import tensorflow as tf

from keras_vae.models.capabilities import PRIOR

def has_prior(model):
    """True for kinds with a prior to draw decoder inputs from (`model.can(PRIOR)`)."""
    return model.can(PRIOR)


def is_conditional(model):
    """True for kinds whose decoder takes a condition (`model.takes_condition`)."""
    return model.takes_condition


def decoder_input_specs(model):
    """Returns the TFLite decoder's input specs: "z" (B, latent_dim) and, for a cvae, "condition" (B, d)."""
    specs = [tf.TensorSpec((None, int(model.latent_dim)), tf.float32, name="z")]
    if is_conditional(model):
        specs.append(tf.TensorSpec((None, int(model.condition_dim)), tf.float32, name="condition"))
    return specs


def decoder_parameters(model, z, condition=None):
    """Returns the decoder's output (the likelihood's parameters) for z and, for a cvae, a float condition."""
    if condition is None:
        return model.decoder(z, training=False)
    return model.decoder((z, tf.cast(condition, z.dtype)), training=False)


def decoded_mean(model, inputs):
    """Returns E[x|z(, c)] as NumPy for decoder inputs `{"z": ..., "condition": ...}` (as the TFLite decoder)."""
    z = tf.constant(np.asarray(inputs["z"], "float32"))
    condition = inputs.get("condition")
    return np.asarray(model.likelihood.mean(decoder_parameters(model, z, condition)))


def class_labels(model, count, seed=None):
    """Returns int32 labels (count,) of a class cvae: cycling 0..K-1, or uniform random when seeded."""
    if seed is None:
        return (np.arange(count) % model.num_classes).astype("int32")
    return np.random.default_rng(seed).integers(0, model.num_classes, size=count).astype("int32")


def signature_condition(model, count, seed=None):
    """Returns the condition input of the SavedModel signatures for `count` examples: {name: array}.

    Class models: labels (cycling through the classes, or random when `seed` is given).
    Vector models: standard normal vectors, a stand-in, since the model does not record
    the distribution of its conditions.
    """
    if model.num_classes is not None:
        return {"labels": class_labels(model, count, seed)}
    rng = np.random.default_rng(0 if seed is None else seed)
    return {"condition": rng.standard_normal((count, int(model.condition_dim))).astype("float32")}


def condition_vectors(model, condition):
    """Returns the float (B, condition_dim) condition the decoder sees for a signature condition dict."""
    value = next(iter(condition.values()))
    return np.asarray(model.condition_vector(value), "float32")


# Random streams: the verification draws use stream 0 (the seed layout of `VAE.sample`), the
# int8 calibration stream 1, so no seed ever calibrates on the draws the report then checks.
VERIFICATION_STREAM, CALIBRATION_STREAM = 0, 1
# The int8 calibration adds the TAIL_COUNT most extreme of TAIL_POOL latent draws (cheap: no decoding).
TAIL_POOL, TAIL_COUNT = 65536, 64


def _extremes(pool):
    # The draws farthest out in any one standardised dimension: per-tensor int8 ranges clip there.
    score = np.abs((pool - pool.mean(axis=0)) / (pool.std(axis=0) + 1e-12)).max(axis=1)
    return pool[np.argsort(score)[-TAIL_COUNT:]]


def prior_latents(model, count, seed=0, stream=VERIFICATION_STREAM):
    """Returns `count` draws z ~ p(z) of the model's own prior as float32 NumPy (`model.prior_latents`).

    Stream 0 draws exactly the z of `model.sample(count, seed)` and of the `sample` signature.
    """
    return np.asarray(model.prior_latents(int(count), seed, stream=stream), "float32")


def _encode_mean(model, images, condition=None):
    return np.asarray(model.embed(images, condition), "float32")


def autoencoder_codes(model, count, seed=0, images=None, stream=VERIFICATION_STREAM):
    """Returns `(codes, draws)` for an autoencoder: codes of images, and Gaussian draws at their scale.

    Args:
        model: built Autoencoder or DenoisingAutoencoder.
        count: int. Number of draws (and of codes when `images` is None).
        seed: int, default 0.
        images: float array (n, *data_shape) or None. Real images to encode; None encodes the
            model's decodings of z0 ~ N(0, I) (see the module docstring for why).
        stream: int, default 0. Random stream (`CALIBRATION_STREAM` for calibration data).

    Example:
    >>> from keras_vae.models.builder import build_model
    >>> codes, draws = autoencoder_codes(build_model("ae", (4,), latent_dim=2, likelihood="gaussian"), 8)
    >>> codes.shape, draws.shape
    ((8, 2), (8, 2))
    """
    rng = np.random.default_rng([stream, seed])
    if images is None:
        z0 = rng.standard_normal((count, int(model.latent_dim))).astype("float32")
        images = np.asarray(model.decode(z0), "float32")
    codes = _encode_mean(model, np.asarray(images, "float32"))
    mean, std = codes.mean(axis=0), codes.std(axis=0)
    draws = (mean + std * rng.standard_normal((count, codes.shape[1]))).astype("float32")
    return codes, draws


def latent_draws(model, count, seed=0):
    """Returns the decoder inputs the report verifies on: `{"z": ...}` plus `"condition"` for a cvae.

    vae: z ~ p(z), the model's own prior. cvae: z ~ p(z) with conditions cycling through
    the classes. ae/dae: Gaussian draws at the codes' empirical scale (`autoencoder_codes`).
    """
    if not has_prior(model):
        return {"z": autoencoder_codes(model, count, seed=seed)[1]}
    inputs = {"z": prior_latents(model, count, seed)}
    if is_conditional(model):
        inputs["condition"] = condition_vectors(model, signature_condition(model, count))
    return inputs


def calibration_inputs(model, calibration_images=None, count=1024, num_images=256, seed=0):
    """Returns int8 calibration inputs `{"z": (n, latent_dim)[, "condition": (n, d)]}` for the decoder.

    Full-integer quantisation fixes each tensor's range to what calibration saw, and clips
    beyond it; the calibration set must therefore reach as far as the inputs the decoder
    will get. vae/cvae: `count` prior draws (the cvae's with random classes) plus the
    `TAIL_COUNT` most extreme of `TAIL_POOL` prior draws. Measured max pixel errors over
    1,000 prior draws: on the test_export VAE (latent 8) typical draws alone calibrate to
    |z| <= 3.5, a verification draw at 4.0 is clipped and costs 0.16-0.2; with the tail
    0.050-0.056 for every seed (a pool of 4,096 still let 0.11 through). On a 3-epoch
    Fashion-MNIST cvae (latent 32) the tail costs a little: 0.045 without, 0.055 with
    (mean 0.0045 -> 0.0055), the price of a range that no draw escapes.
    Then the posterior means and one posterior draw
    per calibration image (`None`: `num_images` of the model's decoded prior samples,
    encoded under the condition that made them): trained posteriors are much narrower than
    the prior, so both ranges matter. ae/dae: the codes of the calibration images (`None`:
    see `autoencoder_codes`), the Gaussian draws at their scale with their tail, and those
    draws' own codes after a decode/encode round. All draws come from `CALIBRATION_STREAM`.

    Args:
        model: built model of any kind.
        calibration_images: float array (n, *data_shape) or None. Real images, when available.
        count: int, default 1024. Prior (or code-scale Gaussian) draws.
        num_images: int, default 256. Decoded samples standing in for images when there are none
            (and the autoencoder draws taken round a decode/encode).
        seed: int, default 0.
    """
    rng = np.random.default_rng([CALIBRATION_STREAM, seed])
    if not has_prior(model):
        codes, _ = autoencoder_codes(model, num_images, seed=seed, images=calibration_images, stream=CALIBRATION_STREAM)
        draws = codes.mean(axis=0) + codes.std(axis=0) * rng.standard_normal((count, codes.shape[1]))
        round_trip = _encode_mean(model, np.asarray(model.decode(draws[:num_images]), "float32"))
        pool = codes.mean(axis=0) + codes.std(axis=0) * rng.standard_normal((TAIL_POOL, codes.shape[1]))
        return {"z": np.concatenate([codes, draws, _extremes(pool), round_trip]).astype("float32")}
    z = prior_latents(model, count, seed, stream=CALIBRATION_STREAM)
    z = np.concatenate([z, _extremes(prior_latents(model, TAIL_POOL, seed, stream=CALIBRATION_STREAM + 1))])
    count = len(z)
    condition = None
    if is_conditional(model):
        condition = condition_vectors(model, signature_condition(model, count, seed=seed))
    images = calibration_images
    image_condition = None if condition is None else condition[:num_images]
    if images is None:
        first = {"z": z[:num_images]}
        if condition is not None:
            first["condition"] = image_condition
        images = decoded_mean(model, first)
    elif condition is not None:
        image_condition = condition_vectors(model, signature_condition(model, len(images), seed=seed + 1))
    images = np.asarray(images, "float32")
    if image_condition is None:
        z_mean, z_log_var = (np.asarray(t) for t in model.encoder(images, training=False))
    else:
        z_mean, z_log_var = (np.asarray(t) for t in model.encoder((images, image_condition), training=False))
    posterior_draw = z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal(z_mean.shape)
    inputs = {"z": np.concatenate([z, z_mean, posterior_draw]).astype("float32")}
    if condition is not None:
        inputs["condition"] = np.concatenate([condition, image_condition, image_condition]).astype("float32")
    return inputs


def prior_description(model):
    """Returns how to draw decoder inputs on a device, for `decoder_metadata.json`.

    Mixture priors (a learned mixture, a VampPrior) are written out as their components'
    weights, means and scales, so a device can sample the model's own p(z) without TF.
    """
    if not has_prior(model):
        return {"name": "none", "how_to_sample": "an autoencoder has no prior; decode codes from encode"}
    name = type(model.prior).__name__
    distribution = model.prior_distribution("float32")
    if name == "StandardNormal":
        return {"name": name, "how_to_sample": "z ~ N(0, I)"}
    try:
        components = distribution.components_distribution.distribution
        weights = distribution.mixture_distribution.probs_parameter()
        return {
            "name": name,
            "how_to_sample": "k ~ Categorical(weights); z ~ N(means[k], diag(scales[k]^2))",
            "weights": np.asarray(weights).tolist(),
            "means": np.asarray(components.mean()).tolist(),
            "scales": np.asarray(components.stddev()).tolist(),
        }
    except AttributeError:  # another prior: the SavedModel's sample signature draws from it
        return {"name": name, "how_to_sample": "use the SavedModel's sample signature"}
