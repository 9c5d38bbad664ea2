"""A deterministic autoencoder baseline, trained with `fit` like the VAE."""

import keras
from keras import ops

from keras_vae.models.generative_model import GenerativeModel

RECONSTRUCTION_LOSSES = ("likelihood", "mse")


@keras.saving.register_keras_serializable(package="keras_vae")
class Autoencoder(GenerativeModel):
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
    An autoencoder has no prior and no bound (`capabilities` is empty): it
    reconstructs, encodes and decodes, and `sample` raises a clear error.

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

    metric_names = ("loss", "reconstruction")
    option_names = ("reconstruction_loss",)
    nested_config_keys = ("encoder", "decoder", "likelihood")

    def __init__(self, encoder, decoder, likelihood="bernoulli", reconstruction_loss="likelihood", seed=None, **kwargs):
        super().__init__(encoder, decoder, likelihood=likelihood, seed=seed, **kwargs)
        if reconstruction_loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(
                f"Unknown reconstruction_loss {reconstruction_loss!r}; choose one of {list(RECONSTRUCTION_LOSSES)}."
            )
        self.reconstruction_loss = reconstruction_loss

    # The contract -----------------------------------------------------------------

    def embedding(self, x, condition_vector, training=False):
        code = self.encoder(self.with_condition(x, condition_vector), training=training)
        return code[0] if isinstance(code, (tuple, list)) else code  # (z_mean, z_log_var) encoders: the mean

    def encode(self, x, condition=None):
        """Returns the code z (batch, latent_dim), a single tensor (the same as `embed`)."""
        return self.embed(x, condition)

    def named_encoding(self, x, condition_vector):
        return {"z": self.embedding(x, condition_vector)}

    def corrupt(self, x, training=False):
        """Returns the encoder's input for clean data x; the identity here (see `DenoisingAutoencoder`)."""
        return x

    def reconstruction_terms(self, x, condition_vector=None, training=False):
        """Returns the per-example reconstruction (batch,) of the clean x from `corrupt(x)` (minus the loss)."""
        code = self.embedding(self.corrupt(x, training=training), condition_vector, training=training)
        parameters = self.decoder(self.with_condition(code, condition_vector), training=training)
        if self.reconstruction_loss == "mse":
            error = ops.square(x - self.likelihood.mean(parameters))
            return -ops.sum(ops.reshape(error, (ops.shape(x)[0], -1)), axis=-1)
        return self.likelihood.log_prob(parameters, x, event_ndims=len(self.data_shape))

    # Training ---------------------------------------------------------------------

    def loss_terms(self, x, condition, training=False):
        """Returns the loss, -mean reconstruction, and the per-example `reconstruction`."""
        reconstruction = self.reconstruction_terms(x, condition, training=training)
        return -ops.mean(reconstruction), {"reconstruction": reconstruction}

    # Serialization ----------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update({"reconstruction_loss": self.reconstruction_loss})
        return config
