"""A deterministic autoencoder baseline, trained with `fit` like the VAE."""

import keras
import tensorflow as tf
from keras import ops

from keras_vae.distribute import scale_loss_for_replicas, step_outputs
from keras_vae.likelihoods import get_likelihood
from keras_vae.models.input_checks import InputChecks

RECONSTRUCTION_LOSSES = ("likelihood", "mse")


@keras.saving.register_keras_serializable(package="keras_vae")
class Autoencoder(InputChecks, keras.Model):
    """Deterministic autoencoder: code z = the encoder's `z_mean`, no sampling, no KL.

    With the same encoder/decoder pair as a `VAE` (the encoder's second output,
    the log-variance, is ignored), the loss per example is

        "likelihood":  -log p(x|z)                 (the likelihood's negative log-prob,
                                                    summed over values; nats)
        "mse":         sum_i (x_i - E[x_i|z])^2    (squared error of the likelihood's
                                                    mean, summed over values)

    averaged over the batch. Metrics: `loss` and `reconstruction` = minus the
    per-example loss (log p(x|z) for "likelihood", the VAE's reconstruction
    term without noise in z), so larger is better as for the VAE. "mse" uses only
    the likelihood's mean, so pair it with a fixed scale (`Gaussian(scale=1.0)`):
    a learned Gaussian scale would get no gradient.

    Args:
        encoder: keras Layer mapping x to `(z_mean, z_log_var)` or to z.
        decoder: keras Layer mapping z to the likelihood's parameters.
        likelihood: str, dict or Likelihood, default "bernoulli". Maps decoder
            outputs to E[x|z] (and, for "likelihood", to log p(x|z)).
        reconstruction_loss: str, default "likelihood". One of `RECONSTRUCTION_LOSSES`.
        seed: int or None, default None. Seed of any randomness (used by subclasses).
        **kwargs: standard `keras.Model` arguments (`name`).

    `encode(x)` returns the code z as one tensor (batch, latent_dim), not a tuple.

    Example:
    >>> import numpy as np, keras
    >>> from keras_vae import MLPEncoder, MLPDecoder
    >>> model = Autoencoder(MLPEncoder(latent_dim=2), MLPDecoder(output_shape=(8, 8, 1)))
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> x = np.random.default_rng(0).uniform(size=(32, 8, 8, 1)).astype("float32")
    >>> sorted(model.fit(x, epochs=1, batch_size=16, verbose=0).history)
    ['loss', 'reconstruction']
    >>> tuple(model.encode(x[:3]).shape)
    (3, 2)
    """

    def __init__(self, encoder, decoder, likelihood="bernoulli", reconstruction_loss="likelihood", seed=None, **kwargs):
        super().__init__(**kwargs)
        if reconstruction_loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(
                f"Unknown reconstruction_loss {reconstruction_loss!r}; choose one of {list(RECONSTRUCTION_LOSSES)}."
            )
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = get_likelihood(likelihood)
        self.reconstruction_loss = reconstruction_loss
        self.seed = seed
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.data_shape = None
        self.latent_dim = None

    # Building ---------------------------------------------------------------------

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self.data_shape = tuple(input_shape[1:])
        if not self.encoder.built:
            self.encoder.build(input_shape)
        code_shape = self.encoder.compute_output_shape(input_shape)
        if isinstance(code_shape, (tuple, list)) and code_shape and isinstance(code_shape[0], (tuple, list)):
            code_shape = code_shape[0]
        self.latent_dim = int(code_shape[-1])
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
        self.built = True

    def get_build_config(self):
        return {"input_shape": None if self.data_shape is None else [None, *self.data_shape]}

    def build_from_config(self, config):
        if config.get("input_shape") is not None:
            self.build(tuple(config["input_shape"]))

    def _code(self, x, training=False):
        code = self.encoder(x, training=training)
        return code[0] if isinstance(code, (tuple, list)) else code

    def call(self, inputs, training=False):
        """Returns the reconstruction E[x|z] at z = encode(x)."""
        return self.likelihood(self.decoder(self._code(inputs, training=training), training=training))

    # Public methods ---------------------------------------------------------------

    def encode(self, x):
        """Returns the code z (batch, latent_dim), a single tensor."""
        return self._code(self._as_inputs(x), training=False)

    def decode(self, z):
        """Returns E[x|z] (Bernoulli: probabilities; Gaussian: the mean) for codes z."""
        return self.likelihood(self.decoder(ops.convert_to_tensor(z, dtype=self.compute_dtype), training=False))

    def reconstruct(self, x):
        """Returns decode(encode(x)) (no corruption, also for a denoising autoencoder)."""
        return self(self._as_inputs(x), training=False)

    def corrupt(self, x, training=False):
        """Returns the encoder's input for clean data x; the identity here (see `DenoisingAutoencoder`)."""
        return x

    def reconstruction_terms(self, x, training=False):
        """Returns the per-example reconstruction (batch,) of the clean x from `corrupt(x)` (minus the loss)."""
        parameters = self.decoder(self._code(self.corrupt(x, training=training), training=training), training=training)
        if self.reconstruction_loss == "mse":
            error = ops.square(x - self.likelihood.mean(parameters))
            return -ops.sum(ops.reshape(error, (ops.shape(x)[0], -1)), axis=-1)
        return self.likelihood.distribution(parameters, event_ndims=len(self.data_shape)).log_prob(x)

    # Training ---------------------------------------------------------------------

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker]

    def train_step(self, data):
        x = self._unpack_inputs(data)
        with tf.GradientTape() as tape:
            reconstruction = self.reconstruction_terms(x, training=True)
            loss = -ops.mean(reconstruction)
            if self.losses:
                loss = loss + ops.sum(self.losses)
            scaled_loss = scale_loss_for_replicas(loss)  # the optimizer sums replicas' gradients
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        return self._update_metrics(loss, reconstruction)

    def test_step(self, data):
        x = self._unpack_inputs(data)
        reconstruction = self.reconstruction_terms(x, training=False)
        return self._update_metrics(-ops.mean(reconstruction), reconstruction)

    def _update_metrics(self, loss, reconstruction):
        self.loss_tracker.update_state(loss)
        self.reconstruction_tracker.update_state(reconstruction)
        return step_outputs({m.name: m.result() for m in self.metrics})

    # Serialization ----------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "likelihood": keras.saving.serialize_keras_object(self.likelihood),
                "reconstruction_loss": self.reconstruction_loss,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "likelihood"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
