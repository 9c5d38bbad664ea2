"""The denoising autoencoder (Vincent et al. 2008): corrupted inputs, clean targets."""

import keras
from keras import ops

from keras_vae.layers import noise
from keras_vae.models.autoencoder import Autoencoder


@keras.saving.register_keras_serializable(package="keras_vae")
class DenoisingAutoencoder(Autoencoder):
    """`Autoencoder` trained to reconstruct clean x from a corrupted copy of it.

    During training (`fit`'s steps) the encoder sees `corrupt(x)`: additive
    Gaussian noise N(0, noise_std^2), then each value set to 0 with probability
    `mask_probability` (masking noise); the loss compares the reconstruction with
    the clean x. Evaluation (`evaluate`, `reconstruct`, `encode`) uses clean
    inputs. The noise comes from a `keras.random.SeedGenerator` seeded by `seed`.

    Args:
        encoder, decoder, likelihood, reconstruction_loss: as for `Autoencoder`.
        noise_std: float, default 0.2. Std of the additive Gaussian noise (0: none).
        mask_probability: float, default 0.0. Probability of zeroing each value.
        seed: int or None, default None. Seed of the corruption.
        **kwargs: standard `keras.Model` arguments.

    Example:
    >>> import numpy as np
    >>> from keras_vae import MLPEncoder, MLPDecoder
    >>> model = DenoisingAutoencoder(MLPEncoder(2), MLPDecoder((4,)), likelihood="gaussian", noise_std=0.5, seed=0)
    >>> x = np.zeros((2, 4), "float32")
    >>> bool(np.any(np.asarray(model.corrupt(x, training=True)) != 0)), bool(np.all(model.corrupt(x) == x))
    (True, True)
    """

    option_names = Autoencoder.option_names + ("noise_std", "mask_probability")

    def __init__(self, encoder, decoder, noise_std=0.2, mask_probability=0.0, seed=None, **kwargs):
        super().__init__(encoder, decoder, seed=seed, **kwargs)
        if not float(noise_std) >= 0:
            raise ValueError(f"noise_std must be a non-negative number, got {noise_std}.")
        if not 0 <= float(mask_probability) < 1:
            raise ValueError(f"mask_probability must lie in [0, 1), got {mask_probability}.")
        if float(noise_std) == 0 and float(mask_probability) == 0:
            raise ValueError("A denoising autoencoder needs noise_std > 0 or mask_probability > 0.")
        self.noise_std = float(noise_std)
        self.mask_probability = float(mask_probability)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def corrupt(self, x, training=False):
        """Returns x with Gaussian and masking noise when `training`, else x unchanged."""
        if not training:
            return x
        x = ops.convert_to_tensor(x, dtype=self.compute_dtype)
        if self.noise_std > 0:
            x = x + self.noise_std * noise.normal(ops.shape(x), self.seed_generator, dtype=x.dtype)
        if self.mask_probability > 0:
            keep = noise.uniform(ops.shape(x), self.seed_generator, dtype=x.dtype) >= self.mask_probability
            x = ops.where(keep, x, ops.zeros_like(x))
        return x

    def get_config(self):
        config = super().get_config()
        config.update({"noise_std": self.noise_std, "mask_probability": self.mask_probability})
        return config
