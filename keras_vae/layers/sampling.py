"""The reparameterisation layer."""

import keras
from keras import ops

from keras_vae.layers import noise


@keras.saving.register_keras_serializable(package="keras_vae")
class Sampling(keras.layers.Layer):
    """Draws z = mu + exp(0.5 * logvar) * eps with eps ~ N(0, I).

    The reparameterisation trick (Kingma and Welling 2013, section 2.4): the noise
    is drawn independently of the parameters, so gradients flow to `mu` and
    `logvar` through a deterministic function.

    Args:
        seed: int or None, default None. Seeds the layer's own
            `keras.random.SeedGenerator`; the same seed gives the same draws.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, `dtype`).

    Call args:
        inputs: a pair `(z_mean, z_log_var)` of tensors of shape `(batch, latent_dim)`.
        num_samples: int or None, default None. `None` returns `(batch, latent_dim)`;
            an int L returns L draws per input with a leading sample axis,
            `(L, batch, latent_dim)`.
        deterministic: bool, default False. Returns the mean `mu` (broadcast over
            the sample axis when `num_samples` is given) instead of a draw.

    Example:
    >>> import numpy as np
    >>> z = Sampling(seed=1)([np.zeros((4, 2)), np.zeros((4, 2))], num_samples=3)
    >>> tuple(z.shape)
    (3, 4, 2)
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, num_samples=None, deterministic=False):
        z_mean, z_log_var = inputs
        z_mean = ops.convert_to_tensor(z_mean, dtype=self.compute_dtype)
        z_log_var = ops.convert_to_tensor(z_log_var, dtype=self.compute_dtype)
        shape = ops.shape(z_mean)
        if num_samples is not None:
            shape = (num_samples,) + tuple(shape)
        if deterministic:
            return ops.broadcast_to(z_mean, shape)
        return z_mean + ops.exp(0.5 * z_log_var) * self.noise(shape)

    def noise(self, shape):
        """Returns eps ~ N(0, I) of `shape` from the layer's seed stream (the draws `call` uses).

        Models whose posterior maps the noise itself (`Posterior.sample_and_log_prob`) draw it here.
        """
        replica_seed = self._replica_seed()
        seed = self.seed_generator if replica_seed is None else replica_seed
        return noise.normal(shape, seed, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape, num_samples=None):
        z_mean_shape = tuple(input_shape[0])
        if num_samples is not None:
            return (num_samples,) + z_mean_shape
        return z_mean_shape

    def _replica_seed(self):
        # Under tf.distribute every replica holds the same SeedGenerator state, so all replicas
        # would draw the SAME eps for their shares of the global batch (measured with
        # MirroredStrategy on TF 2.21): correlated noise across the batch. Each replica's
        # stateless seed is offset by its replica id; one replica draws exactly as before.
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return None
        seed = tf.cast(self.seed_generator.next(), tf.int64)
        replica = tf.cast(context.replica_id_in_sync_group, tf.int64)
        return tf.math.floormod(seed + tf.stack([replica * 1000003, tf.zeros_like(replica)]), 2**31 - 1)

    # The SeedGenerator's state is no layer variable, so Keras would not save it: a run
    # resumed from a backup (keras_vae.resume) would then replay other noise than an
    # uninterrupted one. Saving it makes `save_weights`/`.keras` files carry the position
    # of the noise stream; files without it still load (the state keeps its seed value).
    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["seed_generator_state"] = ops.convert_to_numpy(self.seed_generator.state)

    def load_own_variables(self, store):
        if "seed_generator_state" in store.keys():
            self.seed_generator.state.assign(ops.convert_to_tensor(store["seed_generator_state"][...]))

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed})
        return config
