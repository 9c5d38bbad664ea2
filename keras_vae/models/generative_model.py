"""The contract every keras_vae model kind implements, and the scaffolding they share.

A model kind (VAE, conditional VAE, autoencoder, ...) is one subclass of `GenerativeModel`.
Consumers (training, evaluation, plotting, the commands, export) never ask which class a
model is; they ask what it can do:

    model.capabilities          frozenset of PRIOR, BOUND, POSTERIOR (and whatever new kinds add)
    model.can(PRIOR)            a prior to `sample` from (`prior_distribution()`, `prior_latents()`)
    model.can(BOUND)            a bound on log p(x) (`bound_terms()`: the ELBO and the importance
                                weights, `keras_vae.objectives`)
    model.can(POSTERIOR)        an approximate posterior q(z|x) (`posterior_distribution()`)
    model.can(CLASSIFY)         a classifier q(y|x): `classify(x)` -> class probabilities
    model.can(EXACT)            an exact log-likelihood (`exact_log_likelihood(x, condition, seed)`,
                                nats per example; flows: of 8-bit images, `keras_vae.flows`)
    model.condition_spec        None, or `ConditionSpec(dim, num_classes)` of the condition c that
                                the encoder and decoder see

and every kind has the same methods with the same signatures (the condition is an optional
argument: None for unconditional models, required by conditional ones):

    encode(x, condition=None)          the kind's own encoding (a VAE: (z_mean, z_log_var))
    embed(x, condition=None)           a point in latent space per input, (batch, latent_dim)
    decode(z, condition=None)          E[x | z, c]
    reconstruct(x, condition=None)     E[x | z, c] at the embedding of x
    sample(n, seed=None, condition=None, temperature=1.0, draw=False)
                                       E[x | z, c] (or a draw x ~ p(x | z, c)) for z ~ p(z) (PRIOR only)
    default_condition(n)               the conditions a command uses when the user gives none
    export_endpoints(checks=True)      the SavedModel signatures this kind serves

The shared scaffolding: building from the data shape (with the decoder's output checked
against the likelihood), the condition (one-hot labels or float vectors, joined to the
networks' inputs), `train_step`/`test_step` around the kind's `loss_terms`, the metric
trackers named by `metric_names`, and the serialization of the parts every kind has.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_vae.distribute import scale_loss_for_replicas, step_outputs
from keras_vae.layers.noise import stateless_seed
from keras_vae.likelihoods import get_likelihood
from keras_vae.models import signatures
from keras_vae.models.capabilities import BOUND, CLASSIFY, EXACT, POSTERIOR, PRIOR, ConditionSpec  # noqa: F401 (re-exported)
from keras_vae.models.input_checks import InputChecks

class GenerativeModel(InputChecks, keras.Model):
    """Base class of every model kind: the contract (see the module docstring) and shared steps.

    A subclass declares `capabilities` and `metric_names` and implements
    `encode`, `embed`, `loss_terms` and `export_endpoints` (and, with PRIOR,
    `prior_latents`; with BOUND, `bound_terms`). Everything else is here.

    Args:
        encoder: keras Layer mapping x (or `(x, c)` for a conditional model) to its code.
        decoder: keras Layer mapping z (or `(z, c)`) to the likelihood's parameters.
        likelihood: str, dict or `keras_vae.likelihoods.Likelihood`, default "bernoulli".
        seed: int or None, default None. Seed of the model's randomness.
        **kwargs: standard `keras.Model` arguments (`name`).
    """

    capabilities = frozenset()
    metric_names = ("loss",)
    #: True for kinds whose training data must carry class labels (`keras-vae train` then loads them).
    trains_on_labels = False
    #: True for kinds that learn from a small labelled subset plus unlabelled data (label -1 in
    #: the target slot): `keras-vae train` then draws the subset (--labels-per-class) and mixes batches.
    trains_semi_supervised = False
    #: True for kinds that model 8-bit grey levels k/255 as they are (flows): never binarized.
    trains_on_grey_levels = False
    #: False for kinds whose Bernoulli likelihood sees grey levels unless `--binarize` asks otherwise
    #: (the semi-supervised VAE: its classifier then learns on the images it will classify).
    binarizes_by_default = True

    def __init__(self, encoder, decoder, likelihood="bernoulli", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = get_likelihood(likelihood)
        self.seed = seed
        self.num_classes = None
        self.condition_dim = None
        for name in self.metric_names:
            setattr(self, f"{name}_tracker", keras.metrics.Mean(name=name))
        self.data_shape = None
        self.latent_dim = None

    # What the model can do ------------------------------------------------------------

    def can(self, capability):
        """True when the model has `capability` (PRIOR, BOUND, POSTERIOR, ...)."""
        return capability in self.capabilities

    @property
    def condition_spec(self):
        """None for an unconditional model, else the `ConditionSpec` of its condition."""
        if self.condition_dim is None:
            return None
        return ConditionSpec(dim=int(self.condition_dim), num_classes=self.num_classes)

    @property
    def takes_condition(self):
        """True when the encoder and decoder see a condition c."""
        return self.condition_dim is not None

    def _require(self, capability, method):
        if not self.can(capability):
            raise ValueError(
                f"{type(self).__name__}.{method} needs a model with a {capability}; this "
                f"{type(self).__name__} has {sorted(self.capabilities) or 'none of prior, bound, posterior'}."
            )

    # Building -------------------------------------------------------------------------

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if input_shape and isinstance(input_shape[0], (tuple, list)):
            input_shape = tuple(input_shape[0])  # (x_shape, condition_shape)
        self.data_shape = tuple(input_shape[1:])
        # Sub-layers restored from a .keras file arrive built already.
        if not self.encoder.built:
            self.encoder.build(input_shape)
        code_shape = self.encoder.compute_output_shape(input_shape)
        if isinstance(code_shape, (tuple, list)) and code_shape and isinstance(code_shape[0], (tuple, list)):
            code_shape = code_shape[0]  # (z_mean, z_log_var)
        self.latent_dim = self.latent_size(int(code_shape[-1]))
        if not self.decoder.built:
            self.decoder.build((None, self.latent_dim))
        expected = self.data_shape[:-1] + (self.likelihood.parameter_channels(self.data_shape[-1]),)
        produced = tuple(self.decoder.compute_output_shape((None, self.latent_dim))[1:])
        if produced != expected:
            raise ValueError(
                f"The decoder outputs shape {produced} but data of shape {self.data_shape} with a "
                f"{type(self.likelihood).__name__} likelihood needs {expected}; build the decoder with "
                f"output_shape={expected}."
            )
        if not self.likelihood.built:
            self.likelihood.build(produced)
        self.build_parts()
        self.built = True

    def latent_size(self, code_dim):
        """Returns `latent_dim` (what `embed` returns and `decode` takes) for an encoder with `code_dim` outputs.

        The encoder's code size for most kinds; a hierarchical kind whose latent joins
        several stochastic layers returns their total.
        """
        return code_dim

    def build_parts(self):
        """Builds a kind's own layers once `data_shape` and `latent_dim` are known (none here)."""

    def get_build_config(self):
        return {"input_shape": None if self.data_shape is None else [None, *self.data_shape]}

    def build_from_config(self, config):
        if config.get("input_shape") is not None:
            self.build(tuple(config["input_shape"]))

    def _require_built(self):
        if not self.built or self.latent_dim is None:
            raise ValueError("The model is not built yet; call `model.build((None, *data_shape))` or fit it first.")

    # The condition --------------------------------------------------------------------

    def _missing_condition_message(self, method):
        what = (
            f"labels (ints 0..{self.num_classes - 1})" if self.num_classes else f"a condition ({self.condition_dim} floats)"
        )
        if method in ("fit", "evaluate", "train_step", "test_step"):
            return (
                f"{type(self).__name__}.{method} needs {what} per example as well as the data, e.g. "
                f"model.fit(x, labels), a dataset of (x, labels) pairs, or model.{method}(x, labels)."
            )
        return f"{type(self).__name__}.{method} needs {what} per example: pass it as `condition`."

    def condition_vector(self, condition, method="condition_vector"):
        """Returns the float condition (batch, dim) the networks see; None for an unconditional model.

        Args:
            condition: int labels (batch,) or (batch, 1), or one-hot floats, for a class
                model; float vectors (batch, dim) for a vector model; None for an
                unconditional model (which refuses any other value).
            method: str, default "condition_vector". The public method named in errors.
        """
        if not self.takes_condition:
            if condition is not None:
                raise ValueError(
                    f"{type(self).__name__}.{method} got a condition, but this model is not conditional; drop it."
                )
            return None
        if condition is None:
            raise ValueError(self._missing_condition_message(method))
        condition = ops.convert_to_tensor(condition)
        if self.num_classes is not None:
            if condition.dtype.is_floating and len(condition.shape) == 2 and condition.shape[-1] == self.num_classes:
                return ops.cast(condition, self.compute_dtype)  # one-hot already
            if len(condition.shape) == 2 and condition.shape[-1] == 1:
                condition = ops.reshape(condition, (-1,))
            if len(condition.shape) != 1:
                raise ValueError(
                    f"Labels must have shape (batch,), got {tuple(condition.shape)}; pass class ids 0.."
                    f"{self.num_classes - 1}."
                )
            return ops.one_hot(ops.cast(condition, "int32"), self.num_classes, dtype=self.compute_dtype)
        if len(condition.shape) != 2 or condition.shape[-1] != self.condition_dim:
            raise ValueError(
                f"The condition must have shape (batch, {self.condition_dim}), got {tuple(condition.shape)}."
            )
        return ops.cast(condition, self.compute_dtype)

    def with_condition(self, inputs, condition_vector):
        """Returns a network's input: `inputs` alone, or `(inputs, c)` when there is a condition vector."""
        return inputs if condition_vector is None else (inputs, condition_vector)

    def default_condition(self, n):
        """Returns the condition for `n` examples when the user names none.

        None for an unconditional model; class labels 0, 1, ..., K-1, 0, ... (int32)
        for a class model. A vector model has no default and raises ValueError.
        """
        if not self.takes_condition:
            return None
        if self.num_classes is None:
            raise ValueError(self._missing_condition_message("default_condition"))
        return (np.arange(int(n)) % self.num_classes).astype("int32")

    def check_labels(self, labels):
        """Raises a clear error for class labels a class model cannot take (NumPy input only)."""
        if self.num_classes is None or labels is None or isinstance(labels, tf.data.Dataset):
            return
        labels = np.asarray(labels)
        if labels.ndim == 1 and labels.size:
            if not np.issubdtype(labels.dtype, np.integer) and not np.all(labels == np.round(labels)):
                raise TypeError(f"Labels must be integer class ids, got dtype {labels.dtype}.")
            if labels.min() < 0 or labels.max() >= self.num_classes:
                raise ValueError(
                    f"Labels lie in [{labels.min()}, {labels.max()}] but this model has num_classes="
                    f"{self.num_classes} (ids 0..{self.num_classes - 1})."
                )

    def _sample_condition(self, n, condition):
        # A class model: None cycles the classes, one int means n of that class.
        if not self.takes_condition:
            return self.condition_vector(condition, "sample")
        if condition is None:
            condition = self.default_condition(n)
        elif self.num_classes is not None and np.ndim(condition) == 0:
            condition = np.full((n,), int(condition), "int32")
        if self.num_classes is not None and np.ndim(condition) == 1:
            self.check_labels(np.asarray(condition))
        if int(np.shape(condition)[0]) != n:
            raise ValueError(f"sample(n={n}) needs {n} conditions, got {np.shape(condition)[0]}.")
        return self.condition_vector(condition, "sample")

    # The contract ---------------------------------------------------------------------

    def call(self, inputs, training=False):
        """Returns reconstructions E[x|z, c] at the embedding of x; inputs `x`, or `(x, c)` with a condition."""
        if self.takes_condition:
            if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
                raise ValueError(self._missing_condition_message("call"))
            x, condition = inputs
        else:
            x, condition = inputs, None
        condition = self.condition_vector(condition, "call")
        z = self.embedding(x, condition, training=training)
        return self.likelihood(self.decoder(self.with_condition(z, condition), training=training))

    def embedding(self, x, condition_vector, training=False):
        """Returns the (batch, latent_dim) point code of x for a float condition vector (or None)."""
        raise NotImplementedError

    def encode(self, x, condition=None):
        """Returns the kind's encoding of x (a VAE: `(z_mean, z_log_var)`; an autoencoder: the code)."""
        raise NotImplementedError

    def embed(self, x, condition=None):
        """Returns a point in latent space per input, (batch, latent_dim): the posterior's point or the code.

        Args:
            x: float array or tensor (batch, *data_shape).
            condition: the condition of a conditional model (see `condition_vector`), else None.
        """
        return self.embedding(self._as_inputs(x), self.condition_vector(condition, "embed"), training=False)

    def decoder_parameters(self, z, condition_vector=None):
        """Returns the likelihood's parameters for latents z and a float condition vector (or None).

        `self.likelihood.mean(...)` of it is E[x|z, c]; export (`signatures`, the TFLite decoder)
        builds its decoders from this method, so a kind whose decoder is no single layer (a flow)
        overrides it.
        """
        return self.decoder(self.with_condition(z, condition_vector), training=False)

    def decode(self, z, condition=None):
        """Returns E[x|z, c] (Bernoulli: probabilities; Gaussian: the mean) for latents z (batch, latent_dim)."""
        z = ops.convert_to_tensor(z, dtype=self.compute_dtype)
        condition = self.condition_vector(condition, "decode")
        return self.likelihood(self.decoder(self.with_condition(z, condition), training=False))

    def reconstruct(self, x, condition=None):
        """Returns E[x|z, c] at z = `embed(x, condition)` (deterministic)."""
        x = self._as_inputs(x)
        vector = self.condition_vector(condition, "reconstruct")
        return self(self.with_condition(x, vector), training=False)

    #: True for kinds whose `sample` takes a temperature other than 1 (flows: the prior's std scaled by it).
    samples_at_temperature = False
    #: The highest temperature such a kind samples at: T scales the prior's standard deviation, and far
    #: above 1 the images are clipped noise (1e30 overflows), so `check_temperature` refuses more.
    max_temperature = 5.0
    #: False for kinds whose samples are draws from the model already (flows: x = f^-1(z)), so
    #: `sample(draw=True)` has no likelihood p(x|z) to draw from and gives the same images.
    draws_from_likelihood = True

    def check_temperature(self, temperature):
        """Raises ValueError unless this kind can sample at `temperature` (1 always; flows 0 < T <= max_temperature).

        Args:
            temperature: float. The prior's standard deviation is scaled by it.
        """
        value = float(temperature)
        if value == 1.0:
            return
        if not self.samples_at_temperature:
            raise ValueError(
                f"{type(self).__name__} samples at temperature 1.0 only, got {value:g}; drop --temperature."
            )
        if not 0 < value <= self.max_temperature:
            raise ValueError(
                f"temperature must be positive and at most {self.max_temperature:g}, got {value:g}: it scales "
                "the prior's standard deviation (1 is the model's own prior, below 1 sharper samples; above "
                f"{self.max_temperature:g} the images are clipped noise)."
            )

    def sample(self, n, seed=None, condition=None, temperature=1.0, draw=False):
        """Returns E[x|z, c] (or draws x ~ p(x|z, c)) for `n` draws z ~ p(z); the same `seed` gives the same z.

        Args:
            n: int. Number of images.
            seed: int or None, default None. Seeds a stateless draw.
            condition: None, or for a conditional model the n conditions; a class model
                also takes one int (n of that class) and cycles 0..K-1 when None.
            temperature: float, default 1.0. Only kinds with `samples_at_temperature` take another value.
            draw: bool, default False. False returns the decoder's mean E[x|z] (what
                figures usually show); True draws x ~ p(x|z) through the likelihood
                (`Likelihood.draw`: binary images for Bernoulli, E[x|z] + noise for a
                Gaussian), from stream 1 of the seed, so the z are the same either way.
        """
        self._require(PRIOR, "sample")
        self.check_temperature(temperature)
        self._require_built()
        n = int(n)
        condition = self._sample_condition(n, condition)
        seed = int(np.random.SeedSequence().generate_state(1)[0]) if seed is None else seed
        z = self.prior_latents(n, seed)
        parameters = self.decoder(self.with_condition(z, condition), training=False)
        if draw:
            return self.likelihood.draw(parameters, stateless_seed(seed, 1))
        return self.likelihood(parameters)

    def sample_images(self, count, seed, condition_vector=None):
        """Returns the images of the `sample` signature: E[x|z, c] for `count` draws z ~ p(z) (PRIOR kinds).

        The same images as `sample(count, seed, condition)`, from tensors inside a traced
        signature (`keras_vae.models.signatures.sample_endpoint`, which checks the count);
        a kind whose samples are not the likelihood's mean at `prior_latents` (a flow) overrides it.

        Args:
            count: int32 scalar tensor. Number of images.
            seed: int32 scalar tensor. The stateless seed `[0, seed]`.
            condition_vector: float tensor (count, dim) or None.
        """
        z = self.prior_latents(count, seed)
        return self.likelihood.mean(self.decoder_parameters(z, condition_vector))

    def prior_latents(self, n, seed, stream=0):
        """Returns `n` draws z ~ p(z) from the stateless seed `[stream, seed]` (PRIOR kinds)."""
        self._require(PRIOR, "prior_latents")
        raise NotImplementedError(f"{type(self).__name__} declares a prior but implements no prior_latents.")

    def classify(self, x):
        """Returns q(y|x), the class probabilities (batch, num_classes), of a CLASSIFY kind.

        Needs no label: this is how such a model labels new data.

        Args:
            x: float array or tensor (batch, *data_shape).
        """
        self._require(CLASSIFY, "classify")
        return ops.softmax(self.class_logits(self._as_inputs(x), training=False), axis=-1)

    def class_logits(self, x, training=False):
        """Returns the logits of q(y|x), (batch, num_classes), for a float tensor x (CLASSIFY kinds)."""
        self._require(CLASSIFY, "class_logits")
        raise NotImplementedError(f"{type(self).__name__} declares a classifier but implements no class_logits.")

    def exact_log_likelihood(self, x, condition=None, seed=0):
        """Returns log p(x) per example (batch,) in nats, exactly (EXACT kinds; `keras_vae.flows`)."""
        self._require(EXACT, "exact_log_likelihood")
        raise NotImplementedError(f"{type(self).__name__} declares an exact likelihood but implements none.")

    def named_encoding(self, x, condition_vector):
        """Returns the `encode` signature's outputs as a dict of named tensors (batch, latent_dim)."""
        raise NotImplementedError

    def export_endpoints(self, checks=True):
        """Returns this kind's SavedModel signatures, the default first (`keras_vae.models.signatures`).

        Every kind serves reconstruct (the default), encode and decode; PRIOR adds
        sample, BOUND adds elbo and CLASSIFY adds classify; a conditional model's
        signatures take the condition (classify never does).
        A kind with more to serve (a classifier) extends this list.
        """
        return signatures.standard_endpoints(self, checks=checks)

    # Training -------------------------------------------------------------------------

    def loss_terms(self, x, condition, training=False):
        """Returns `(loss, terms)`: the scalar loss and a dict of per-example metric tensors (batch,).

        Args:
            x: float tensor (batch, *data_shape).
            condition: float tensor (batch, dim) or None (see `condition_vector`).
            training: bool, default False.
        """
        raise NotImplementedError

    @property
    def metrics(self):
        return [getattr(self, f"{name}_tracker") for name in self.metric_names]

    def train_step(self, data):
        x, condition = self._unpack_inputs(data)
        with tf.GradientTape() as tape:
            loss, terms = self.loss_terms(x, condition, training=True)
            if self.losses:
                loss = loss + ops.sum(self.losses)
            # Under tf.distribute the optimizer sums the replicas' gradients (see the helper).
            scaled_loss = scale_loss_for_replicas(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        return self._update_metrics(loss, terms)

    def test_step(self, data):
        x, condition = self._unpack_inputs(data)
        loss, terms = self.loss_terms(x, condition, training=False)
        return self._update_metrics(loss, terms)

    def _update_metrics(self, loss, terms):
        self.loss_tracker.update_state(loss)
        for name, value in terms.items():
            getattr(self, f"{name}_tracker").update_state(value)
        return step_outputs({m.name: m.result() for m in self.metrics})

    def fit(self, x=None, y=None, *args, **kwargs):
        self._require_condition(x, y, "fit")
        self.check_labels(y)
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._require_condition(x, y, "evaluate")
        self.check_labels(y)
        return super().evaluate(x, y, *args, **kwargs)

    def _require_condition(self, x, y, method):
        if not self.takes_condition or y is not None or isinstance(x, (tuple, list)) or x is None:
            return
        if isinstance(x, tf.data.Dataset) and isinstance(x.element_spec, (tuple, list)) and len(x.element_spec) >= 2:
            return
        raise ValueError(self._missing_condition_message(method))

    def _unpack_inputs(self, data):
        """Returns `(x, condition vector or None)` of a batch, checked while tracing."""
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        if not self.takes_condition:
            return super()._unpack_inputs(x), None  # an unconditional model ignores the target slot
        if condition is None and isinstance(x, (tuple, list)) and len(x) == 2:
            x, condition = x  # fit((x, c))
        if condition is None:
            raise ValueError(self._missing_condition_message("train_step"))
        return super()._unpack_inputs(x), self.condition_vector(condition)

    # Building from parts -------------------------------------------------------------

    #: Constructor arguments `from_parts` takes from `build_model`'s options (beyond the parts).
    option_names = ()
    #: Settings of the standard encoder/decoder pair `build_model` makes for `from_parts` (its
    #: architecture, latent_dim, likelihood and network_options). A kind that builds its own networks
    #: (a flow) declares (), so `TrainSettings.check` refuses these like any other kind's option.
    network_option_names = ("architecture", "latent_dim", "likelihood", "gaussian_scale", "activation", "hidden_units")

    @classmethod
    def from_parts(cls, encoder, decoder, likelihood="bernoulli", seed=None, architecture="mlp", **options):
        """Returns an unbuilt model of this kind from an encoder/decoder pair (`models.builder.build_model`).

        Takes the options named in `option_names` that are not None and ignores the others
        (they belong to other kinds). `architecture` ("mlp" or "conv") is for kinds that
        join extra inputs to the networks differently per architecture.
        """
        own = {name: options[name] for name in cls.option_names if options.get(name) is not None}
        return cls(encoder, decoder, likelihood=likelihood, seed=seed, **own)

    # Serialization --------------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "likelihood": keras.saving.serialize_keras_object(self.likelihood),
                "seed": self.seed,
            }
        )
        return config

    #: Config keys holding serialized Keras objects, deserialized by `from_config`.
    nested_config_keys = ("encoder", "decoder", "likelihood")

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in cls.nested_config_keys:
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
