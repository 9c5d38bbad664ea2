"""The decoder's inputs, the latent draws and the int8 calibration data of any model, from its contract.

The export never asks which kind a model is; it asks what the model can do
(`keras_vae.models.generative_model.GenerativeModel`):

    model.takes_condition   the TFLite decoder takes "condition" float32 (B, dim) beside "z"
                            (one-hot labels for a class model), and the SavedModel signatures
                            take "labels" or "condition" (`keras_vae.models.signatures`)
    model.can(PRIOR)        latent draws come from the model's own prior p(z)
                            (`model.prior_latents`), which `prior_description` writes out
                            for devices; without a prior they are `code_draws`
    model.can(BOUND)        the int8 calibration adds one posterior draw per image
                            (`model.bound_terms` at seeded noise)

The signatures themselves are the kind's (`model.export_endpoints()`); everything else
(the atomic write, the TFLite conversion, the report) is shared.

Latents of a model without a prior (an autoencoder): there is no p(z) to draw from, and
the run directory holds no data, so the draws that stand in for "typical codes" are built
from the model alone (`code_draws`): decode z0 ~ N(0, I), embed the images (codes of
images the decoder makes, on the encoder's side of the model's own image manifold), then
draw from a diagonal Gaussian with those codes' per-dimension mean and standard deviation
(the empirical latent scale, which for an autoencoder is arbitrary and often far from 1).
Given real calibration images, their codes are used instead: they are exactly what
reconstruction feeds the decoder.
"""

import numpy as np
import tensorflow as tf

from keras_vae.models.capabilities import BOUND, PRIOR
from keras_vae.models.signatures import condition_input_spec

# Random streams: the verification draws use stream 0 (the seed layout of `model.sample`), the
# int8 calibration stream 1, so no seed ever calibrates on the draws the report then checks.
VERIFICATION_STREAM, CALIBRATION_STREAM = 0, 1
# The int8 calibration adds the TAIL_COUNT most extreme of TAIL_POOL latent draws (cheap: no decoding).
TAIL_POOL, TAIL_COUNT = 65536, 64


def decoder_input_specs(model):
    """Returns the TFLite decoder's input specs: "z" (B, latent_dim), and "condition" (B, dim) when it takes one.

    Example:
    >>> from keras_vae.models.builder import build_model
    >>> [spec.name for spec in decoder_input_specs(build_model("cvae", (4,), latent_dim=2, num_classes=3))]
    ['z', 'condition']
    """
    specs = [tf.TensorSpec((None, int(model.latent_dim)), tf.float32, name="z")]
    if model.takes_condition:
        specs.append(tf.TensorSpec((None, model.condition_spec.dim), tf.float32, name="condition"))
    return specs


def decoder_parameters(model, z, condition=None):
    """Returns the decoder's output (the likelihood's parameters) for z and a float condition (or None)."""
    vector = None if condition is None else tf.cast(condition, z.dtype)
    return model.decoder_parameters(z, vector)


def decoded_mean(model, inputs):
    """Returns E[x|z(, c)] as NumPy for decoder inputs `{"z": ...[, "condition": ...]}` (as the TFLite decoder)."""
    z = tf.constant(np.asarray(inputs["z"], "float32"))
    return np.asarray(model.likelihood.mean(decoder_parameters(model, z, inputs.get("condition"))))


def signature_condition(model, count, seed=None):
    """Returns the condition input of the SavedModel signatures for `count` examples: `{name: array}`.

    Empty for an unconditional model. Class models: "labels" cycling through the classes
    (`model.default_condition`), or uniform random classes when `seed` is given. Vector
    models: "condition", standard normal vectors, a stand-in, since the model does not
    record the distribution of its conditions.

    Example:
    >>> from keras_vae.models.builder import build_model
    >>> signature_condition(build_model("cvae", (4,), latent_dim=2, num_classes=3), 4)
    {'labels': array([0, 1, 2, 0], dtype=int32)}
    """
    if not model.takes_condition:
        return {}
    name = condition_input_spec(model).name
    if model.num_classes is not None:
        if seed is None:
            return {name: model.default_condition(count)}
        return {name: np.random.default_rng(seed).integers(0, model.num_classes, size=count).astype("int32")}
    rng = np.random.default_rng(0 if seed is None else seed)
    return {name: rng.standard_normal((count, model.condition_spec.dim)).astype("float32")}


def condition_vectors(model, condition):
    """Returns the float (B, dim) condition the decoder sees for a `signature_condition` dict; None for `{}`."""
    if not condition:
        return None
    return np.asarray(model.condition_vector(next(iter(condition.values()))), "float32")


def _random_conditions(model, count, seed):
    # The float conditions of `count` calibration rows (random classes), or None.
    return condition_vectors(model, signature_condition(model, count, seed=seed))


def _extremes(pool):
    # The draws farthest out in any one standardised dimension: per-tensor int8 ranges clip there.
    score = np.abs((pool - pool.mean(axis=0)) / (pool.std(axis=0) + 1e-12)).max(axis=1)
    return pool[np.argsort(score)[-TAIL_COUNT:]]


def prior_latents(model, count, seed=0, stream=VERIFICATION_STREAM):
    """Returns `count` draws z ~ p(z) of the model's own prior as float32 NumPy (`model.prior_latents`).

    Stream 0 draws exactly the z of `model.sample(count, seed)` and of the `sample` signature.
    """
    return np.asarray(model.prior_latents(int(count), seed, stream=stream), "float32")


def _embed(model, images, condition=None):
    return np.asarray(model.embed(np.asarray(images, "float32"), condition), "float32")


def code_draws(model, count, seed=0, images=None, stream=VERIFICATION_STREAM, condition=None):
    """Returns `(codes, draws)` for a model without a prior: codes of images, and Gaussian draws at their scale.

    Args:
        model: built model (any kind; meant for those without PRIOR).
        count: int. Number of draws (and of codes when `images` is None).
        seed: int, default 0.
        images: float array (n, *data_shape) or None. Real images to embed; None embeds the
            model's decodings of z0 ~ N(0, I) (see the module docstring for why).
        stream: int, default 0. Random stream (`CALIBRATION_STREAM` for calibration data).
        condition: float array (n, dim) or None. The images' conditions, for a conditional model.

    Example:
    >>> from keras_vae.models.builder import build_model
    >>> codes, draws = code_draws(build_model("ae", (4,), latent_dim=2, likelihood="gaussian"), 8)
    >>> codes.shape, draws.shape
    ((8, 2), (8, 2))
    """
    rng = np.random.default_rng([stream, seed])
    if images is None:
        z0 = rng.standard_normal((count, int(model.latent_dim))).astype("float32")
        images = np.asarray(model.decode(z0, condition), "float32")
    codes = _embed(model, images, condition)
    mean, std = codes.mean(axis=0), codes.std(axis=0)
    draws = (mean + std * rng.standard_normal((count, codes.shape[1]))).astype("float32")
    return codes, draws


def latent_draws(model, count, seed=0):
    """Returns the decoder inputs the report verifies on: `{"z": ...}`, plus `"condition"` when the model takes one.

    z ~ p(z), the model's own prior (PRIOR), else Gaussian draws at the codes' empirical
    scale (`code_draws`); conditions cycle through the classes (`signature_condition`).

    Example:
    >>> from keras_vae.models.builder import build_model
    >>> {name: value.shape for name, value in latent_draws(build_model("cvae", (4,), latent_dim=2, num_classes=3), 5).items()}
    {'z': (5, 2), 'condition': (5, 3)}
    """
    condition = condition_vectors(model, signature_condition(model, count))
    if model.can(PRIOR):
        inputs = {"z": prior_latents(model, count, seed)}
    else:
        inputs = {"z": code_draws(model, count, seed=seed, condition=condition)[1]}
    if condition is not None:
        inputs["condition"] = condition
    return inputs


def draws_description(model):
    """Returns what `latent_draws` draws, in words (the report's "latent_draws").

    Example:
    >>> from keras_vae.models.builder import build_model
    >>> draws_description(build_model("cvae", (4,), latent_dim=2, num_classes=3))
    "z ~ p(z), the model's StandardNormal prior, with labels cycling 0..2"
    """
    if model.can(PRIOR):
        prior = getattr(model, "prior", None)  # a flow's prior is its own (its scales' priors)
        description = f"z ~ p(z), the model's {type(prior or model).__name__} prior"
    else:
        description = "Gaussian draws at the empirical mean and scale of the codes of decoded N(0, I) draws (no prior)"
    spec = model.condition_spec
    if spec is not None:
        conditions = f"labels cycling 0..{spec.num_classes - 1}" if spec.num_classes else "standard normal condition vectors"
        description += f", with {conditions}"
    return description


def calibration_inputs(model, calibration_images=None, count=1024, num_images=256, seed=0):
    """Returns int8 calibration inputs `{"z": (n, latent_dim)[, "condition": (n, dim)]}` for the decoder.

    Full-integer quantisation fixes each tensor's range to what calibration saw, and clips
    beyond it; the calibration set must therefore reach as far as the inputs the decoder
    will get. It holds, with random conditions for a conditional model:

    - `count` typical draws plus the `TAIL_COUNT` most extreme of `TAIL_POOL` draws: from
      the prior (PRIOR), else from the Gaussian at the codes' scale (`code_draws`, whose
      codes join the set too). Measured max pixel errors over 1,000 prior draws: on the
      test_export VAE (latent 8) typical draws alone calibrate to |z| <= 3.5, a
      verification draw at 4.0 is clipped and costs 0.16-0.2; with the tail 0.050-0.056
      for every seed (a pool of 4,096 still let 0.11 through). On a 3-epoch Fashion-MNIST
      cvae (latent 32) the tail costs a little: 0.045 without, 0.055 with (mean 0.0045 ->
      0.0055), the price of a range that no draw escapes.
    - the embeddings of the calibration images (`None`: `num_images` of the decodings of
      the first draws, under the conditions that made them; for a model without a prior
      that is a decode/embed round trip) and, with a BOUND, one posterior draw per image:
      trained posteriors are much narrower than the prior, so both ranges matter.

    All draws come from `CALIBRATION_STREAM` (and the next stream for the prior's pool).

    Args:
        model: built model of any kind.
        calibration_images: float array (n, *data_shape) or None. Real images, when available.
        count: int, default 1024. Typical draws.
        num_images: int, default 256. Decoded draws standing in for images when there are none
            (and the codes that set the scale of a model without a prior).
        seed: int, default 0.

    Example:
    >>> from keras_vae.models.builder import build_model
    >>> inputs = calibration_inputs(build_model("vae", (4,), latent_dim=2, likelihood="gaussian"), count=8, num_images=4)
    >>> inputs["z"].shape  # 8 draws, 64 of the tail, 4 posterior means and 4 posterior draws
    (80, 2)
    """
    rng = np.random.default_rng([CALIBRATION_STREAM, seed])
    groups = []  # (z rows, their float conditions or None), concatenated at the end
    if model.can(PRIOR):
        typical = prior_latents(model, count, seed, stream=CALIBRATION_STREAM)
        pool = prior_latents(model, TAIL_POOL, seed, stream=CALIBRATION_STREAM + 1)
    else:
        code_images = num_images if calibration_images is None else len(calibration_images)
        code_condition = _random_conditions(model, code_images, seed + 2)
        codes, _ = code_draws(
            model, num_images, seed, images=calibration_images, stream=CALIBRATION_STREAM, condition=code_condition
        )
        groups.append((codes, code_condition))
        mean, std = codes.mean(axis=0), codes.std(axis=0)
        typical = mean + std * rng.standard_normal((count, codes.shape[1]))
        pool = mean + std * rng.standard_normal((TAIL_POOL, codes.shape[1]))
    z = np.concatenate([typical, _extremes(pool)]).astype("float32")
    condition = _random_conditions(model, len(z), seed)
    groups.append((z, condition))
    if calibration_images is None:
        image_condition = None if condition is None else condition[:num_images]
        first = {"z": z[:num_images]} if condition is None else {"z": z[:num_images], "condition": image_condition}
        images = decoded_mean(model, first)
    else:
        images = np.asarray(calibration_images, "float32")
        image_condition = _random_conditions(model, len(images), seed + 1)
    groups.append((_embed(model, images, image_condition), image_condition))
    if model.can(BOUND):
        eps = rng.standard_normal((len(images), model.noise_dim)).astype("float32")
        posterior_draw = model.bound_terms(tf.constant(images), eps[None], image_condition).z[0]
        groups.append((np.asarray(posterior_draw), image_condition))
    inputs = {"z": np.concatenate([rows for rows, _ in groups]).astype("float32")}
    if condition is not None:
        inputs["condition"] = np.concatenate([vectors for _, vectors in groups]).astype("float32")
    return inputs


def prior_description(model):
    """Returns how to draw decoder inputs on a device, for `decoder_metadata.json`.

    Mixture priors (a learned mixture, a VampPrior) are written out as their components'
    weights, means and scales, so a device can sample the model's own p(z) without TF.

    Example:
    >>> from keras_vae.models.builder import build_model
    >>> prior_description(build_model("vae", (4,), latent_dim=2, likelihood="gaussian"))
    {'name': 'StandardNormal', 'how_to_sample': 'z ~ N(0, I)'}
    """
    if not model.can(PRIOR):
        return {"name": "none", "how_to_sample": "the model has no prior; decode codes from encode"}
    how = getattr(model, "prior_how_to_sample", None)  # a kind that says it itself (flows)
    if how is not None:
        return {"name": f"{type(model).__name__} prior", "how_to_sample": how}
    name = type(model.prior).__name__
    if name == "StandardNormal":
        return {"name": name, "how_to_sample": "z ~ N(0, I)"}
    distribution = model.prior_distribution("float32")
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
