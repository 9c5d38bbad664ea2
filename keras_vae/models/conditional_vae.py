"""The conditional VAE (Sohn et al. 2015): q(z|x, c) and p(x|z, c), trained with `fit`."""

import keras

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

    Methods take the condition as their `condition` argument, as every model
    kind's do (`keras_vae.models.generative_model`): `encode(x, c)`,
    `decode(z, c)`, `reconstruct(x, c)`, `embed(x, c)`, `model((x, c))`, and
    `sample(n, seed, condition=None)` (class models: None cycles through the
    classes, an int draws n of that class).

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
    >>> tuple(model.sample(4, seed=0, condition=[0, 1, 2, 0]).shape)
    (4, 8, 8, 1)
    """

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
        self.condition_dim = dim
        self.encoder_mode = encoder.mode

    option_names = VAE.option_names + ("num_classes", "condition_dim")
    trains_on_labels = True

    @classmethod
    def from_parts(cls, encoder, decoder, likelihood="bernoulli", seed=None, architecture="mlp", **options):
        """As `GenerativeModel.from_parts`; a conv encoder sees the condition as extra image channels."""
        if options.get("num_classes") is None and options.get("condition_dim") is None:
            raise ValueError("A conditional VAE needs labels: pass num_classes (data with class labels).")
        own = {name: options[name] for name in cls.option_names if options.get(name) is not None}
        mode = "channels" if architecture == "conv" else "concat"
        return cls(encoder, decoder, likelihood=likelihood, seed=seed, encoder_mode=mode, **own)

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
