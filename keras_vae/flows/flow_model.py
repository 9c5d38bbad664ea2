"""FlowModel: the multi-scale normalizing flow every flow kind (RealNVP, Glow) shares.

The data are 8-bit images stored as floats x = k / 255, k in {0, ..., 255}. A flow models
the density of the uniformly dequantised y = (k + u) / 256, u ~ U[0, 1)^D, on [0, 1)^D, through
an invertible f with h = f(y - 0.5) and the change of variables

    log p(y) = log p_H(f(y - 0.5)) + log |det df/dy|.

Discretisation correction. Each grey level k owns the cube [k/256, (k+1)/256) of volume 256^-D,
so P(k) = int_cube p(y) dy and, by Jensen's inequality,

    log P(k) >= E_u[log p((k + u) / 256)] - D ln 256              (nats per image)
    bits/dim  = -(E_u[log p((k + u) / 256)] - D ln 256) / (D ln 2)

which is the 8-bit log-likelihood a discretized-logistic VAE reports (`DiscretizedLogistic`:
256 bins of width 1/255 on the k/255 grid, a probability mass, not a density), so the two are
compared in the same units: nats per image of the discrete data, and bits per dimension. A
flow's figure is an upper bound on its own discrete NLL (one u per image at evaluation).

Multi-scale architecture (Dinh et al. 2017): after the layers of scale s < L - 1 the last
C - C // 2 channels z_s are factored out and modelled by a prior p(z_s | h_s) (standard normal
for RealNVP; Glow's split prior is a learned conditional Gaussian on the kept half h_s); the
kept half goes on to the next scale, whose output h_L has a standard normal prior. The latent
z is every z_s and h_L flattened and concatenated: latent_dim = H W C, and decode(encode(x))
is x up to float rounding.

A subclass says what one scale is (`scale_layers`), how many squeezes the scales make
(`squeezes`) and, optionally, the split prior (`split_prior_layer`).
"""

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from keras_vae.flows.layers import FlowLayer
from keras_vae.layers import noise
from keras_vae.layers.noise import stateless_seed
from keras_vae.likelihoods import Likelihood
from keras_vae.models import signatures
from keras_vae.models.capabilities import EXACT, PRIOR
from keras_vae.models.generative_model import GenerativeModel

tfd = tfp.distributions

#: Grey levels of the 8-bit data a flow models.
NUM_BINS = 256


def dequantize(x, u):
    """Returns y = (k + u) / 256 for x = k / 255 (k rounded, so floats near the grid land in their bin)."""
    return (tf.round(x * (NUM_BINS - 1)) + u) / NUM_BINS


def discretisation_correction(num_dims):
    """Returns D ln 256: log P(k) >= log p(y) - D ln 256 (the bins of y have volume 256^-D)."""
    return num_dims * math.log(NUM_BINS)


@keras.saving.register_keras_serializable(package="keras_vae")
class FlowOutput(Likelihood):
    """The "likelihood" slot of a flow: the decoder's output is the image itself (no parameters).

    A flow's density is exact and lives in `FlowModel.exact_log_likelihood`; this layer only tells
    the model contract's consumers that the data lie in [0, 1] and what the decoder's output is called.
    """

    support = (0.0, 1.0)
    mean_name = "images"

    def distribution(self, parameters, event_ndims):
        raise TypeError("A flow has no p(x|z): its likelihood is exact, `model.exact_log_likelihood(x)`.")

    def mean(self, parameters):
        return parameters


class StopOnNonFiniteLogDet(keras.callbacks.Callback):
    """Stops `fit` with FloatingPointError as soon as the log-determinant or the loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        for key in ("log_det", "loss"):
            if key in logs and not np.isfinite(float(logs[key])):
                self.model.stop_training = True
                raise FloatingPointError(
                    f"The flow's {key} became {float(logs[key])} at batch {batch}: training stopped. Lower the "
                    "learning rate, or use fewer steps per scale; the data must be 8-bit images scaled to [0, 1]."
                )


class FlowModel(GenerativeModel):
    """Base of the flow kinds: a multi-scale flow trained by maximum likelihood (module docstring).

    Args:
        num_scales: int, default 2. L, the number of scales (L - 1 splits); 1 to 8.
        steps_per_scale: int, default 2. Flow steps (couplings) per scale (per group for RealNVP); 1 to 64.
        hidden_channels: int, default 64. Width of every coupling network; 1 to 1024.
        seed: int or None, default None. Seeds the 1x1 convolutions' start and the dequantisation noise.
        **kwargs: standard `keras.Model` arguments (`name`).

    Raises:
        ValueError: an option that is no integer in its range (`option_limits`).
    """

    capabilities = frozenset({PRIOR, EXACT})
    #: The largest value each option may take. A model file's config asks for this much work
    #: and memory, so a hostile or mistyped one (steps_per_scale 3000: minutes and gigabytes per
    #: sample) is refused when the model is made, before any layer is built. Glow's paper uses
    #: at most 6 scales, 48 steps and 512 channels.
    option_limits = {"num_scales": 8, "steps_per_scale": 64, "hidden_channels": 1024}
    metric_names = ("loss", "bits_per_dim", "log_det")
    option_names = ("num_scales", "steps_per_scale", "hidden_channels")
    network_option_names = ()  # a flow is its own encoder and decoder: x <-> z, latent_dim = H W C
    nested_config_keys = ()
    samples_at_temperature = True
    trains_on_grey_levels = True
    draws_from_likelihood = False

    def __init__(self, num_scales=2, steps_per_scale=2, hidden_channels=64, seed=None, encoder=None, decoder=None,
                 likelihood=None, **kwargs):
        # encoder, decoder and likelihood come from `build_model`'s standard pair: a flow is its own both.
        super().__init__(None, None, likelihood=FlowOutput(), seed=seed, **kwargs)
        for name, value in (("num_scales", num_scales), ("steps_per_scale", steps_per_scale),
                            ("hidden_channels", hidden_channels)):
            self._check_option(name, value)
        self.num_scales = int(num_scales)
        self.steps_per_scale = int(steps_per_scale)
        self.hidden_channels = int(hidden_channels)
        self.dequantisation_noise = keras.random.SeedGenerator(0 if seed is None else int(seed))

    def _check_option(self, name, value):
        limit = self.option_limits[name]
        # A bool is an int to Python and a string "2" compares unequal to 2: name the type they have.
        if isinstance(value, (bool, str)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(
                f"{type(self).__name__} needs {name} >= 1 and at most {limit} (an integer), got {value!r} "
                f"(a {type(value).__name__}); write it as a number, e.g. {name}=2."
            )
        if not (np.isfinite(value) and int(value) == value and 1 <= value <= limit):
            raise ValueError(
                f"{type(self).__name__} needs {name} >= 1 and at most {limit} (an integer), got {value!r}; larger "
                f"flows are refused ({type(self).__name__}.option_limits) so that no model file asks for unbounded "
                "work or memory."
            )

    # What a kind defines -----------------------------------------------------------

    def squeezes(self):
        """Returns how many times the scales halve height and width."""
        raise NotImplementedError

    def scale_layers(self, index, shape, last):
        """Returns the flow layers of scale `index` for inputs of `shape` (H, W, C)."""
        raise NotImplementedError

    def split_prior_layer(self, index, kept_shape, factored_channels):
        """Returns the layer giving (mean, log_std) of z_index from the kept half, or None for N(0, I)."""
        return None

    # Building ----------------------------------------------------------------------

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if input_shape and isinstance(input_shape[0], (tuple, list)):
            input_shape = tuple(input_shape[0])
        shape = tuple(int(d) for d in input_shape[1:])
        if len(shape) != 3:
            raise ValueError(f"A {type(self).__name__} needs images (height, width, channels); got shape {shape}.")
        factor = 2 ** self.squeezes()
        if shape[0] % factor or shape[1] % factor:
            raise ValueError(
                f"{type(self).__name__} with num_scales={self.num_scales} squeezes {self.squeezes()} times, so "
                f"height and width must divide by {factor}; got {shape[0]}x{shape[1]}. Pad or crop the images "
                f"to a multiple of {factor} (e.g. {-(-shape[0] // factor) * factor}x{-(-shape[1] // factor) * factor}),"
                " or lower num_scales (--num-scales)."
            )
        self.data_shape = shape
        self.flow_layers, self.split_priors, self.scale_bounds, self.latent_shapes = [], [], [], []
        current = shape
        for index in range(self.num_scales):
            last = index == self.num_scales - 1
            start = len(self.flow_layers)
            for layer in self.scale_layers(index, current, last):
                if not isinstance(layer, FlowLayer):
                    raise TypeError(f"scale_layers must return FlowLayer instances, got {layer!r}.")
                layer.build((None,) + current)
                current = tuple(int(d) for d in layer.compute_output_shape((None,) + current)[1:])
                self.flow_layers.append(layer)
            self.scale_bounds.append((start, len(self.flow_layers)))
            if last:
                self.latent_shapes.append(current)
                break
            kept = current[-1] // 2
            if kept < 1:
                raise ValueError(f"Scale {index} has {current[-1]} channel(s): nothing to factor out; lower num_scales.")
            factored = current[:-1] + (current[-1] - kept,)
            current = current[:-1] + (kept,)
            prior = self.split_prior_layer(index, current, factored[-1])
            if prior is not None:
                prior.build((None,) + current)
                self.split_priors.append(prior)
            self.latent_shapes.append(factored)
        self.latent_dim = int(np.prod(shape))
        self.built = True

    # The flow ----------------------------------------------------------------------

    def _split_parameters(self, index, kept):
        if self.split_priors:
            return self.split_priors[index](kept)
        return tf.zeros_like(kept), tf.zeros_like(kept)

    def forward_flow(self, h, training=False):
        """Returns `(latents, log_det, log_prior)`: the z_s of every scale for centred inputs h = y - 0.5.

        log_det = log |det dz/dh| and log_prior = sum_s log p(z_s | h_s), both per example (batch,).
        """
        batch = tf.shape(h)[:1]
        log_det = tf.zeros(batch, h.dtype)
        log_prior = tf.zeros(batch, h.dtype)
        latents = []
        for index, (start, end) in enumerate(self.scale_bounds):
            for layer in self.flow_layers[start:end]:
                h, step_log_det = layer.forward(h, training=training)
                log_det = log_det + step_log_det
            if index == self.num_scales - 1:
                break
            kept = h.shape[-1] // 2
            h, z = h[..., :kept], h[..., kept:]
            mean, log_std = self._split_parameters(index, h)
            log_prior = log_prior + _sum_per_example(tfd.Normal(mean, tf.exp(log_std)).log_prob(z))
            latents.append(z)
        log_prior = log_prior + _sum_per_example(tfd.Normal(tf.zeros_like(h), 1.0).log_prob(h))
        latents.append(h)
        return latents, log_det, log_prior

    def inverse_flow(self, latents, from_noise=False, temperature=1.0):
        """Returns `(h, latents used)`: the centred image h = y - 0.5 for the latents of every scale.

        With `from_noise`, `latents` are standard normal draws eps_s and z_s = mean_s + T std_s eps_s
        under each scale's prior at temperature T (Kingma and Dhariwal 2018).
        """
        h = latents[-1] * temperature if from_noise else latents[-1]
        used = [None] * self.num_scales
        used[-1] = h
        for index in reversed(range(self.num_scales)):
            if index < self.num_scales - 1:
                z = latents[index]
                if from_noise:
                    mean, log_std = self._split_parameters(index, h)
                    z = mean + temperature * tf.exp(log_std) * z
                used[index] = z
                h = tf.concat([h, z], axis=-1)
            start, end = self.scale_bounds[index]
            for layer in reversed(self.flow_layers[start:end]):
                h = layer.inverse(h)
        return h, used

    def flatten_latents(self, latents):
        """Returns the (batch, latent_dim) vector of every scale's latents."""
        return tf.concat([tf.reshape(z, (-1, int(np.prod(z.shape[1:])))) for z in latents], axis=1)

    def unflatten_latents(self, z):
        """Returns the latents of every scale from their (batch, latent_dim) vector."""
        sizes = [int(np.prod(shape)) for shape in self.latent_shapes]
        return [tf.reshape(part, (-1,) + shape) for part, shape in zip(tf.split(z, sizes, axis=1), self.latent_shapes)]

    def log_density(self, y, training=False):
        """Returns `(log p(y), log_det)` per example for dequantised y in [0, 1)^D (nats)."""
        _, log_det, log_prior = self.forward_flow(y - 0.5, training=training)
        return log_prior + log_det, log_det

    # The contract ------------------------------------------------------------------

    def call(self, inputs, training=False):
        """Returns decode(encode(x)): x itself up to float rounding (the flow is invertible)."""
        x = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
        return self.decode_latents(self.embedding(x, None, training=training))

    def embedding(self, x, condition_vector, training=False):
        # The mid-bin dequantisation y = (255 x + 1/2) / 256: deterministic and invertible for any x.
        y = (ops.cast(x, self.compute_dtype) * (NUM_BINS - 1) + 0.5) / NUM_BINS
        latents, _, _ = self.forward_flow(y - 0.5, training=training)
        return self.flatten_latents(latents)

    def encode(self, x, condition=None):
        """Returns z = f(y - 0.5), y = (255 x + 1/2) / 256, flattened to (batch, latent_dim): exact, no noise.

        Example:
        >>> import numpy as np
        >>> from keras_vae.models.glow import Glow
        >>> model = Glow(num_scales=1, steps_per_scale=1, hidden_channels=4)
        >>> model.build((None, 4, 4, 1))
        >>> x = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 1)).astype("float32") / 255
        >>> z = np.asarray(model.encode(x))
        >>> float(np.abs(np.asarray(model.decode(z)) - x).max()) < 1e-4
        True
        """
        return self.embed(x, condition)

    def named_encoding(self, x, condition_vector):
        return {"z": self.embedding(x, condition_vector)}

    def decode_latents(self, z):
        """Returns x = (256 y - 1/2) / 255 for y = f^{-1}(z) + 0.5 (the inverse of `encode`)."""
        h, _ = self.inverse_flow(self.unflatten_latents(ops.cast(z, self.compute_dtype)))
        return ((h + 0.5) * NUM_BINS - 0.5) / (NUM_BINS - 1)

    def decode(self, z, condition=None):
        """Returns the images x (batch, H, W, C) whose `encode` is z (not clipped: the exact inverse)."""
        self.condition_vector(condition, "decode")
        return self.decode_latents(ops.convert_to_tensor(z, dtype=self.compute_dtype))

    def reconstruct(self, x, condition=None):
        """Returns decode(encode(x)): the exact round trip."""
        self.condition_vector(condition, "reconstruct")
        return self(self._as_inputs(x), training=False)

    def prior_noise(self, n, seed, stream=0):
        """Returns eps ~ N(0, I) of shape (n, latent_dim) from the stateless seed `[stream, seed]`."""
        return tf.random.stateless_normal(
            tf.stack([n, self.latent_dim]), seed=stateless_seed(seed, stream), dtype=self.compute_dtype
        )

    def sample_from_noise(self, eps, temperature=1.0):
        """Returns `(images, z)` for noise eps (batch, latent_dim) at `temperature`; images clipped to [0, 1]."""
        h, used = self.inverse_flow(self.unflatten_latents(eps), from_noise=True, temperature=temperature)
        images = ((h + 0.5) * NUM_BINS - 0.5) / (NUM_BINS - 1)
        return tf.clip_by_value(images, 0.0, 1.0), self.flatten_latents(used)

    def sample_images(self, count, seed, condition_vector=None):
        """Returns `sample(count, seed)`'s images (temperature 1, clipped to [0, 1]): the `sample` signature's."""
        return self.sample_from_noise(self.prior_noise(count, seed))[0]

    def prior_latents(self, n, seed, stream=0, temperature=1.0):
        """Returns n draws z ~ p(z) (at `temperature`), (n, latent_dim): decode(z) is `sample(n, seed)` unclipped."""
        return self.sample_from_noise(self.prior_noise(n, seed, stream), temperature)[1]

    def sample(self, n, seed=None, condition=None, temperature=1.0, draw=False):
        """Returns n images for z ~ p(z) at `temperature` (0 < T; T = 1 the model's own prior), in [0, 1].

        `draw` is the contract's argument for kinds whose decoder gives E[x|z]: a flow's
        x = f^-1(z) is already a draw from the model, so both values return the same images.

        Example:
        >>> from keras_vae.models.realnvp import RealNVP
        >>> model = RealNVP(num_scales=1, steps_per_scale=1, hidden_channels=4)
        >>> model.build((None, 4, 4, 1))
        >>> tuple(model.sample(3, seed=0, temperature=0.7).shape)
        (3, 4, 4, 1)
        """
        self._require_built()
        self.condition_vector(condition, "sample")
        self.check_temperature(temperature)
        seed = int(np.random.SeedSequence().generate_state(1)[0] >> 1) if seed is None else seed
        return self.sample_from_noise(self.prior_noise(int(n), seed), float(temperature))[0]

    def exact_log_likelihood(self, x, condition=None, seed=0):
        """Returns log P(x) per example in nats for 8-bit images x = k/255: log p(y) - D ln 256 at one u.

        y = (k + u) / 256 with u ~ U[0, 1)^D from the stateless seed `[0, seed]` (the module
        docstring: a lower bound on the discrete log-likelihood, exact for the dequantised y).

        Example:
        >>> import numpy as np
        >>> from keras_vae.models.realnvp import RealNVP
        >>> model = RealNVP(num_scales=1, steps_per_scale=1, hidden_channels=4)
        >>> model.build((None, 4, 4, 1))
        >>> x = np.zeros((1, 4, 4, 1), "float32")
        >>> bool(np.asarray(model.exact_log_likelihood(x))[0] < 0)
        True
        """
        self.condition_vector(condition, "exact_log_likelihood")
        x = self._as_inputs(x)
        u = tf.random.stateless_uniform(tf.shape(x), seed=stateless_seed(seed), dtype=self.compute_dtype)
        return self._discrete_log_likelihood(x, u)[0]

    def _discrete_log_likelihood(self, x, u, training=False):
        log_py, log_det = self.log_density(dequantize(x, u), training=training)
        return log_py - discretisation_correction(self.latent_dim), log_det

    def log_prob(self, x, condition=None, seed=0):
        """Alias of `exact_log_likelihood` (the name of the exported signature)."""
        return self.exact_log_likelihood(x, condition, seed)

    def loss_terms(self, x, condition, training=False):
        """Returns the mean NLL of the 8-bit data (nats per image) and per-example bits/dim and log-det."""
        u = noise.uniform(ops.shape(x), self.dequantisation_noise, dtype=self.compute_dtype)
        log_likelihood, log_det = self._discrete_log_likelihood(x, u, training=training)
        bits = -log_likelihood / (self.latent_dim * math.log(2.0))
        return -ops.mean(log_likelihood), {"bits_per_dim": bits, "log_det": log_det}

    def decoder_parameters(self, z, condition_vector=None):
        # The flow's inverse is its decoder; `FlowOutput.mean` passes the images through.
        return self.decode_latents(z)

    def export_endpoints(self, checks=True):
        """Returns reconstruct (the default), encode, decode, sample and log_prob signatures.

        The first four are every kind's (`keras_vae.models.signatures`): `sample` (seed, count)
        -> images draws exactly `model.sample(count, seed)` (temperature 1, clipped to [0, 1];
        `sample_images`) under the same count check as every kind's. `log_prob` (images, seed) ->
        log_prob is `model.exact_log_likelihood(images, seed=seed)`, nats per image of the 8-bit data
        (bits/dim = -log_prob / (D ln 2)); images outside [0, 1] are refused with an error, since
        their density would be a finite number with no meaning.
        """
        endpoints = signatures.standard_endpoints(self, checks=checks)
        images_spec = tf.TensorSpec((None,) + tuple(self.data_shape), tf.float32, name="images")
        seed_spec = tf.TensorSpec((), tf.int32, name="seed")

        def log_prob(images, seed):
            images = signatures.checked_in_support(self, images, "images", checks)
            return {"log_prob": self.exact_log_likelihood(images, seed=seed)}

        endpoints.append(signatures.Endpoint("log_prob", log_prob, [images_spec, seed_spec]))
        return endpoints

    def fit(self, x=None, y=None, *args, **kwargs):
        callbacks = list(kwargs.pop("callbacks", None) or [])
        if not any(isinstance(c, StopOnNonFiniteLogDet) for c in callbacks):
            callbacks.append(StopOnNonFiniteLogDet())
        return super().fit(x, y, *args, callbacks=callbacks, **kwargs)

    # Serialization -----------------------------------------------------------------

    @classmethod
    def from_parts(cls, encoder, decoder, likelihood="bernoulli", seed=None, architecture="mlp", **options):
        """Returns an unbuilt flow from `build_model`'s options; the standard encoder/decoder pair is not used."""
        own = {name: options[name] for name in cls.option_names if options.get(name) is not None}
        return cls(seed=seed, **own)

    def get_config(self):
        config = super().get_config()
        for key in ("encoder", "decoder", "likelihood"):
            config.pop(key, None)
        config.update(
            {
                "num_scales": self.num_scales,
                "steps_per_scale": self.steps_per_scale,
                "hidden_channels": self.hidden_channels,
            }
        )
        return config


def _sum_per_example(values):
    return tf.reduce_sum(tf.reshape(values, (tf.shape(values)[0], -1)), axis=1)
