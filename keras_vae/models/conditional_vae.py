"""The conditional VAE (Sohn et al. 2015): q(z|x, c) and p(x|z, c), trained with `fit`."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_vae.models.vae import VAE
from keras_vae.networks.conditional import ConditionalNetwork


@keras.saving.register_keras_serializable(package="keras_vae")
class ConditionalVAE(VAE):
    """VAE whose encoder q(z|x, c) and decoder p(x|z, c) see a condition c; the prior stays p(z).

    The condition is either a class label (`num_classes=K`: int labels 0..K-1,
    one-hot encoded inside the model) or any float vector (`condition_dim=d`:
    shape (batch, d)). Conditioning is concatenation: the encoder and decoder
    are wrapped in `ConditionalNetwork` layers (c joined to the flattened input,
    or tiled as extra image channels for a conv encoder with
    `encoder_mode="channels"`, and joined to z). Everything else (the ELBO,
    beta, IWAE, free bits, metrics, checks, serialization) is the `VAE`'s.

    Data: the condition travels as the target slot of Keras' data, so
    `fit(x, labels)`, `fit(dataset)` with a dataset of `(x, labels)` batches
    (what `keras_vae.data.make_dataset(images, labels)` yields) and
    `evaluate(x, labels)` all work. `fit((x, labels))` works too. Data without
    a condition raises a ValueError.

    Methods take the condition as a second argument: `encode(x, c)`,
    `decode(z, c)`, `reconstruct(x, c)`, `model((x, c))`, and
    `sample(n, seed, labels=None, condition=None)`.

    Args:
        encoder: keras Layer mapping x to `(z_mean, z_log_var)` (wrapped unless
            it is a `ConditionalNetwork` already).
        decoder: keras Layer mapping a flat vector to the likelihood's parameters
            (wrapped unless it is a `ConditionalNetwork` already).
        num_classes: int or None. Number of classes of a label condition.
        condition_dim: int or None. Size of a float vector condition. Give
            exactly one of `num_classes` and `condition_dim`.
        encoder_mode: str, default "concat". How c meets x: "concat" (flatten x)
            or "channels" (tile c over H x W; for conv encoders).
        **kwargs: the `VAE` arguments (likelihood, prior, beta, num_samples,
            seed, objective, free_bits, name).

    Example:
    >>> import numpy as np, keras
    >>> from keras_vae import MLPEncoder, MLPDecoder
    >>> model = ConditionalVAE(MLPEncoder(2), MLPDecoder((8, 8, 1)), num_classes=3, seed=0)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> x = np.random.default_rng(0).uniform(size=(32, 8, 8, 1)).astype("float32")
    >>> history = model.fit(x, np.arange(32) % 3, epochs=1, batch_size=16, verbose=0)
    >>> tuple(model.sample(4, seed=0, labels=[0, 1, 2, 0]).shape)
    (4, 8, 8, 1)
    """

    is_conditional = True

    def __init__(self, encoder, decoder, num_classes=None, condition_dim=None, encoder_mode="concat", **kwargs):
        if (num_classes is None) == (condition_dim is None):
            raise ValueError(
                "Give exactly one of num_classes (class labels) and condition_dim (float condition vectors)."
            )
        if num_classes is not None and int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
        if condition_dim is not None and int(condition_dim) < 1:
            raise ValueError(f"condition_dim must be a positive integer, got {condition_dim}.")
        dim = int(num_classes if num_classes is not None else condition_dim)
        if not isinstance(encoder, ConditionalNetwork):
            encoder = ConditionalNetwork(encoder, mode=encoder_mode, condition_dim=dim, name="conditional_encoder")
        if not isinstance(decoder, ConditionalNetwork):
            decoder = ConditionalNetwork(decoder, mode="concat", condition_dim=dim, name="conditional_decoder")
        super().__init__(encoder, decoder, **kwargs)
        if getattr(self.prior, "needs_encoder", False):
            # A VampPrior's components are q(z|u_k), but this encoder also needs a condition for u_k.
            raise ValueError(
                f"The conditional VAE does not support the {type(self.prior).__name__} prior (its pseudo-inputs "
                "have no condition); use prior='standard_normal' or 'mixture'."
            )
        self.num_classes = None if num_classes is None else int(num_classes)
        self.condition_dim = int(condition_dim) if condition_dim is not None else self.num_classes
        self.encoder_mode = encoder.mode

    # Building ---------------------------------------------------------------------

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if input_shape and isinstance(input_shape[0], (tuple, list)):
            input_shape = tuple(input_shape[0])  # (x_shape, condition_shape)
        # The wrappers know condition_dim, so the VAE's build sees the shapes of x and z alone.
        super().build(input_shape)

    def call(self, inputs, training=False):
        """Returns reconstructions E[x|z, c] at the posterior mean, for inputs `(x, c)`."""
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            raise ValueError(self._missing_condition_message("call"))
        x, condition = inputs
        condition = self.condition_vector(condition)
        z_mean, z_log_var = self.encoder((x, condition), training=training)
        posterior = getattr(self, "posterior", None)
        z = posterior.point(z_mean, z_log_var) if hasattr(posterior, "point") else z_mean
        return self.likelihood(self.decoder((z, condition), training=training))

    # Conditions -------------------------------------------------------------------

    def _missing_condition_message(self, method):
        what = f"labels (ints 0..{self.num_classes - 1})" if self.num_classes else f"a condition ({self.condition_dim} floats)"
        return (
            f"ConditionalVAE.{method} needs {what} per example as well as the data, e.g. "
            f"model.fit(x, labels), a dataset of (x, labels) pairs, or model.{method}(x, labels)."
            if method in ("fit", "evaluate", "train_step", "test_step")
            else f"ConditionalVAE.{method} needs {what} per example: call it with the condition as "
            "its second argument."
        )

    def condition_vector(self, condition):
        """Returns the float condition (batch, condition_dim): one-hot labels, or the vectors as given.

        Args:
            condition: int labels (batch,) or (batch, 1) for `num_classes` models;
                float vectors (batch, condition_dim) otherwise.
        """
        if condition is None:
            raise ValueError(self._missing_condition_message("condition_vector"))
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

    def _check_labels(self, labels):
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

    # Public methods ---------------------------------------------------------------

    def encode(self, x, condition=None):
        """Returns `(z_mean, z_log_var)` of q(z|x, c)."""
        if condition is None:
            raise ValueError(self._missing_condition_message("encode"))
        return self.encoder((self._as_inputs(x), self.condition_vector(condition)), training=False)

    def decode(self, z, condition=None):
        """Returns E[x|z, c] (Bernoulli: probabilities; Gaussian: the mean)."""
        if condition is None:
            raise ValueError(self._missing_condition_message("decode"))
        z = ops.convert_to_tensor(z, dtype=self.compute_dtype)
        return self.likelihood(self.decoder((z, self.condition_vector(condition)), training=False))

    def reconstruct(self, x, condition=None):
        """Returns E[x|z, c] at z = E_q[z|x, c], the posterior mean (deterministic)."""
        if condition is None:
            raise ValueError(self._missing_condition_message("reconstruct"))
        return self((self._as_inputs(x), condition), training=False)

    def sample(self, n, seed=None, labels=None, condition=None):
        """Returns E[x|z, c] for `n` draws z ~ p(z), one per requested condition.

        z is drawn exactly as `VAE.sample(n, seed)` draws it, so the same seed gives
        the same z for every condition.

        Args:
            n: int. Number of images.
            seed: int or None, default None. Seeds a stateless draw.
            labels: int or sequence of n ints, or None. Classes to generate
                (`num_classes` models). None cycles through the classes:
                0, 1, ..., K-1, 0, 1, ...
            condition: float array (n, condition_dim) or None. The condition of a
                `condition_dim` model (required there).
        """
        self._require_built()
        n = int(n)
        if self.num_classes is not None:
            if condition is not None:
                labels = condition
            elif labels is None:
                labels = np.arange(n) % self.num_classes
            elif np.ndim(labels) == 0:
                labels = np.full((n,), int(labels))
            self._check_labels(np.asarray(labels) if np.ndim(labels) == 1 else None)
            condition = labels
        elif condition is None:
            raise ValueError(self._missing_condition_message("sample"))
        if int(np.shape(condition)[0]) != n:
            raise ValueError(f"sample(n={n}) needs {n} conditions, got {np.shape(condition)[0]}.")
        seed = np.random.SeedSequence().generate_state(1)[0] if seed is None else seed
        if hasattr(self, "prior_distribution"):
            prior = self.prior_distribution(self.compute_dtype)
        else:
            prior = self.prior.distribution(self.latent_dim, dtype=self.compute_dtype)
        z = prior.sample(n, seed=tf.constant([0, int(seed) % (2**31 - 1)], dtype=tf.int32))
        return self.decode(z, condition)

    def log_likelihood(self, inputs, z, training=False):
        """Returns log p(x|z, c) of shape (L, batch) for inputs `(x, c)` and z (L, batch, latent_dim)."""
        x, condition = inputs
        num_draws = ops.shape(z)[0]
        # z flattened sample-major: row l * batch + b pairs with condition b.
        tiled = ops.tile(condition, (num_draws, 1))
        parameters = self.decoder((ops.reshape(z, (-1, self.latent_dim)), tiled), training=training)
        parameters = ops.reshape(parameters, (num_draws, -1) + tuple(parameters.shape[1:]))
        distribution = self.likelihood.distribution(parameters, event_ndims=len(self.data_shape))
        return distribution.log_prob(x)

    # Training ---------------------------------------------------------------------

    def fit(self, x=None, y=None, *args, **kwargs):
        self._require_condition(x, y)
        self._check_labels(y)
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._require_condition(x, y)
        self._check_labels(y)
        return super().evaluate(x, y, *args, **kwargs)

    def _require_condition(self, x, y):
        if y is not None or isinstance(x, (tuple, list)):
            return
        if isinstance(x, tf.data.Dataset):
            if isinstance(x.element_spec, (tuple, list)) and len(x.element_spec) >= 2:
                return
        elif x is None:
            return
        raise ValueError(self._missing_condition_message("fit"))

    def _unpack_inputs(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        if condition is None and isinstance(x, (tuple, list)) and len(x) == 2:
            x, condition = x  # fit((x, c))
        if condition is None:
            raise ValueError(self._missing_condition_message("train_step"))
        x = super()._unpack_inputs(x)
        return x, self.condition_vector(condition)

    # Serialization ----------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "condition_dim": None if self.num_classes is not None else self.condition_dim,
                "encoder_mode": self.encoder_mode,
            }
        )
        return config
