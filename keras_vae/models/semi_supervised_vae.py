"""The semi-supervised VAE "M2" of Kingma, Rezende, Mohamed and Welling (2014), trained with `fit`."""

import math

import keras
import tensorflow_probability as tfp
from keras import ops

from keras_vae import objectives
from keras_vae.models.capabilities import BOUND, CLASSIFY, POSTERIOR, PRIOR
from keras_vae.models.conditional_vae import ConditionalVAE
from keras_vae.networks.classifier import MLPClassifier

tfd = tfp.distributions

#: The label that marks an unlabelled example in the target slot of a mixed batch.
UNLABELLED = -1


def paper_alpha(num_examples, num_labelled):
    """Returns the classification weight alpha of `SemiSupervisedVAE`'s per-batch loss for the paper's setting.

    Kingma et al. (2014) optimise J + alpha_paper * E_labelled[-log q(y|x)] with J summed over the
    data set and alpha_paper = 0.1 * N. Our loss averages the labelled and the unlabelled terms
    over their examples in each batch, so the labelled part stands for N_l examples; dividing the
    paper's objective by N_l gives alpha = 0.1 * N / N_l (the reading most reimplementations
    use, e.g. Wohlert's semi-supervised-pytorch).

    Args:
        num_examples: int. N, all training examples (labelled and unlabelled).
        num_labelled: int. N_l, the labelled ones.

    Example:
    >>> paper_alpha(60000, 100)
    60.0
    """
    if int(num_labelled) < 1 or int(num_examples) < int(num_labelled):
        raise ValueError(f"Need 1 <= num_labelled <= num_examples, got {num_labelled} and {num_examples}.")
    return 0.1 * int(num_examples) / int(num_labelled)


@keras.saving.register_keras_serializable(package="keras_vae")
class SemiSupervisedVAE(ConditionalVAE):
    """M2 (Kingma et al. 2014): a class-conditional VAE with a classifier, trained on labelled and unlabelled x.

    The generative model is p(y) = Cat(1/K), p(z) = N(0, I), p(x|y, z) (the conditional
    VAE's decoder, which sees the one-hot y); the inference networks are q(z|x, y) (the
    conditional VAE's encoder) and the classifier q(y|x) = Cat(softmax(classifier(x))).

        L(x, y) = E_q(z|x,y)[log p(x|y,z)] + log p(y) - KL(q(z|x,y) || p(z))   <= log p(x, y)
        U(x)    = sum_y q(y|x) L(x, y) + H(q(y|x))                              <= log p(x)

    L(x, y) for all K classes comes from ONE batched pass: x is tiled K times (row
    k * B + b is x_b with class k) through the conditional VAE's `bound_terms`, so
    there is no Python loop over classes. The per-batch loss is

        loss = mean_labelled[-L(x, y)] + mean_unlabelled[-U(x)] + alpha * mean_labelled[-log q(y|x)]

    (a group whose batch has no member contributes 0), so with every example labelled
    it is the conditional VAE's -ELBO + log K + alpha * cross-entropy.

    Mixed batches: the label travels in the target slot as for the conditional VAE
    (`fit(x, labels)` or a dataset of `(x, labels)` batches), and an unlabelled example
    has the label -1 (`UNLABELLED`; its one-hot vector is all zeros inside the model).

    Metrics (nats per example; `fit`/`evaluate` average them over the examples they apply to):
    `labelled_bound` L(x, y) over labelled examples, `unlabelled_bound` U(x) over EVERY
    example (a bound on log p(x) that needs no label, so `evaluate` reports it on labelled
    test data too), `accuracy` of argmax q(y|x) on labelled examples, and `reconstruction`
    and `kl` of the labelled bound. Capabilities: PRIOR (class-conditional `sample`), BOUND
    (`bound_terms` are the conditional bound on log p(x|y), i.e. L(x, y) - log p(y)),
    POSTERIOR q(z|x, y) and CLASSIFY (`classify(x)`: q(y|x), and a `classify` signature).

    Args:
        encoder: keras Layer mapping x (with y joined) to `(z_mean, z_log_var)`; wrapped in a
            `ConditionalNetwork` unless it is one.
        decoder: keras Layer mapping (z, y) to the likelihood's parameters; wrapped likewise.
        num_classes: int (>= 2). K.
        classifier: keras Layer mapping x to K logits, or None (default): `MLPClassifier(K)`.
        alpha: float, default 0.1. Weight of the labelled cross-entropy (`paper_alpha` gives
            the paper's setting for a data set).
        **kwargs: the `ConditionalVAE`/`VAE` arguments (encoder_mode, likelihood, prior,
            num_samples, seed, name). beta must stay 1 and the objective "elbo": U(x) needs
            the true bound of every class.

    Example (training: `model.compile(...)`, then `model.fit(x, labels)` with labels -1 for the
    unlabelled images; tests/test_semi_supervised.py and notebooks/05_semi_supervised run it):
    >>> import numpy as np
    >>> from keras_vae import MLPEncoder, MLPDecoder
    >>> model = SemiSupervisedVAE(MLPEncoder(2), MLPDecoder((8, 8, 1)), num_classes=3, alpha=1.0, seed=0)
    >>> model.build((None, 8, 8, 1))
    >>> tuple(model.classify(np.zeros((4, 8, 8, 1), "float32")).shape)
    (4, 3)
    """

    capabilities = frozenset({PRIOR, BOUND, POSTERIOR, CLASSIFY})
    metric_names = ("loss", "labelled_bound", "unlabelled_bound", "accuracy", "reconstruction", "kl")
    nested_config_keys = ConditionalVAE.nested_config_keys + ("classifier",)
    option_names = ("num_samples", "prior", "num_classes", "alpha")
    trains_semi_supervised = True
    # `keras-vae train --model m2` keeps grey levels: with binarized images the classifier learns on
    # noisy copies of what it classifies, which costs the labels-only classifier 1.3-2.7 points of
    # test error on Fashion-MNIST (BENCHMARKS.md, "The same classifier on binarized images"). The
    # Bernoulli cross-entropy on grey x is the expected log-likelihood of a dynamic binarization,
    # so the bounds keep their meaning in expectation.
    binarizes_by_default = False

    def __init__(self, encoder, decoder, num_classes=None, classifier=None, alpha=0.1, **kwargs):
        if num_classes is None:
            raise ValueError("The semi-supervised VAE needs num_classes (the number of classes K).")
        if kwargs.get("condition_dim") is not None:
            raise ValueError("The semi-supervised VAE's condition is a class label: give num_classes, not condition_dim.")
        if float(kwargs.get("beta", 1.0)) != 1.0 or kwargs.get("objective", "elbo") != "elbo":
            raise ValueError("The semi-supervised VAE needs beta=1 and objective='elbo': U(x) sums true bounds.")
        if kwargs.get("free_bits", 0.0):
            raise ValueError("The semi-supervised VAE does not take free_bits: U(x) sums true bounds.")
        if not (float(alpha) >= 0 and math.isfinite(float(alpha))):
            raise ValueError(f"alpha must be a non-negative number, got {alpha}.")
        super().__init__(encoder, decoder, num_classes=num_classes, **kwargs)
        self.alpha = float(alpha)
        self.classifier = classifier if classifier is not None else MLPClassifier(self.num_classes, name="classifier")

    @classmethod
    def from_parts(cls, encoder, decoder, likelihood="bernoulli", seed=None, architecture="mlp", **options):
        """As `ConditionalVAE.from_parts`, with the default `MLPClassifier` (on any input shape)."""
        if options.get("num_classes") is None:
            raise ValueError("The semi-supervised VAE needs labels: pass num_classes (data with class labels).")
        own = {name: options[name] for name in cls.option_names if options.get(name) is not None}
        mode = "channels" if architecture == "conv" else "concat"
        return cls(encoder, decoder, likelihood=likelihood, seed=seed, encoder_mode=mode, **own)

    def build_parts(self):
        super().build_parts()
        if not self.classifier.built:
            self.classifier.build((None,) + tuple(self.data_shape))

    # Labels ---------------------------------------------------------------------------

    def check_labels(self, labels):
        """As the conditional VAE's, but -1 (`UNLABELLED`) marks an unlabelled example."""
        if labels is None or not hasattr(labels, "__len__") or isinstance(labels, (tuple, list)) and not labels:
            return super().check_labels(labels)
        import numpy as np  # noqa: PLC0415 (local: only NumPy labels get here)

        array = np.asarray(labels)
        if array.ndim == 1 and array.size and np.issubdtype(array.dtype, np.number):
            labelled = array[array != UNLABELLED]
            return super().check_labels(labelled if labelled.size else None)
        return super().check_labels(labels)

    # The classifier -------------------------------------------------------------------

    def class_logits(self, x, training=False):
        return self.classifier(x, training=training)

    def label_prior(self, dtype=None):
        """Returns p(y), the uniform `tfd.Categorical` over the K classes."""
        return tfd.Categorical(logits=ops.zeros((self.num_classes,), dtype=dtype or self.compute_dtype))

    # The bounds -----------------------------------------------------------------------

    def class_bounds(self, x, eps, training=False):
        """Returns L(x, y) for every class y, (batch, K), from one batched pass over all classes.

            L(x, y) = mean_l log p(x|y, z_l) + log p(y) - KL(q(z|x, y) || p(z))

        Args:
            x: float tensor (batch, *data_shape).
            eps: float tensor (L, K * batch, noise_dim) of N(0, 1) noise; row k * batch + b
                is the noise of example b under class k.
            training: bool, default False.

        Returns:
            `(bounds, parts)`: L(x, y) of shape (batch, K), and (2, batch, K) holding its
            reconstruction term mean_l log p(x|y, z_l) and its KL.
        """
        batch = ops.shape(x)[0]
        k = self.num_classes
        tiled = ops.tile(x, (k,) + (1,) * (len(x.shape) - 1))  # row k * batch + b = x_b
        classes = ops.repeat(ops.arange(k, dtype="int32"), batch)  # its class k
        one_hot = ops.one_hot(classes, k, dtype=self.compute_dtype)
        reconstruction, kl = objectives.elbo_terms(self.bound_terms(tiled, eps, one_hot, training=training))
        log_p_y = self.label_prior(reconstruction.dtype).log_prob(classes)
        bounds = ops.reshape(reconstruction - kl + log_p_y, (k, batch))
        parts = ops.reshape(ops.stack([reconstruction, kl]), (2, k, batch))
        return ops.transpose(bounds), ops.transpose(parts, (0, 2, 1))

    def unlabelled_bound(self, bounds, logits):
        """U(x) = sum_y q(y|x) L(x, y) + H(q(y|x)), (batch,), from `class_bounds` and the classifier's logits."""
        q_y = tfd.Categorical(logits=logits)
        return ops.sum(ops.softmax(logits, axis=-1) * bounds, axis=-1) + q_y.entropy()

    def loss_terms(self, x, condition, training=False):
        """Returns the M2 loss of a mixed batch and its per-example metrics (see the class docstring).

        Args:
            x: float tensor (batch, *data_shape).
            condition: float tensor (batch, K): one-hot labels, all-zero rows for unlabelled
                examples (what label -1 becomes).
            training: bool, default False.
        """
        batch = ops.shape(x)[0]
        eps = self.sampling.noise((self.num_samples, self.num_classes * batch, self.noise_dim))
        bounds, parts = self.class_bounds(x, eps, training=training)
        reconstructions, kls = parts[0], parts[1]
        logits = self.class_logits(x, training=training)
        labelled = ops.sum(condition, axis=-1)  # 1 for a labelled example, 0 for an unlabelled one
        unlabelled = 1.0 - labelled
        labels = ops.argmax(condition, axis=-1)  # class 0 for unlabelled rows, masked out below
        labelled_bound = ops.sum(condition * bounds, axis=-1)
        unlabelled_bound = self.unlabelled_bound(bounds, logits)
        cross_entropy = -tfd.Categorical(logits=logits).log_prob(labels)
        n_labelled = ops.maximum(ops.sum(labelled), 1.0)
        n_unlabelled = ops.maximum(ops.sum(unlabelled), 1.0)
        loss = (
            -ops.sum(labelled * labelled_bound) / n_labelled
            - ops.sum(unlabelled * unlabelled_bound) / n_unlabelled
            + ops.cast(self.alpha, x.dtype) * ops.sum(labelled * cross_entropy) / n_labelled
        )
        correct = ops.cast(ops.equal(ops.argmax(logits, axis=-1), labels), x.dtype)
        return loss, {
            "labelled_bound": (labelled_bound, labelled),
            "unlabelled_bound": (unlabelled_bound, None),
            "accuracy": (correct, labelled),
            "reconstruction": (ops.sum(condition * reconstructions, axis=-1), labelled),
            "kl": (ops.sum(condition * kls, axis=-1), labelled),
        }

    def _update_metrics(self, loss, terms):
        # Each term is (values, weights): the labelled-only metrics weigh unlabelled examples 0.
        for name, (values, weights) in terms.items():
            getattr(self, f"{name}_tracker").update_state(values, sample_weight=weights)
        return super()._update_metrics(loss, {})

    # Serialization --------------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        for name in ("beta", "objective", "free_bits", "condition_dim"):
            config.pop(name, None)
        config.update({"classifier": keras.saving.serialize_keras_object(self.classifier), "alpha": self.alpha})
        return config
