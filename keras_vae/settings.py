"""The settings of one training run: `TrainSettings`, their checks, and reading them back from JSON.

`keras-vae train` parses its arguments into `TrainSettings`; the run directory keeps
them in metrics.json (see `keras_vae.runs`), from which evaluate, plot, sample and a
resumed train read them back with `TrainSettings.from_dict`, which names the field
of a value of the wrong type.
"""

import dataclasses

import numpy as np

from keras_vae.callbacks import BETA_SCHEDULES
from keras_vae.data.pipeline import BINARIZATIONS
from keras_vae.distribute import STRATEGIES
from keras_vae.likelihoods import LIKELIHOODS
from keras_vae.models.builder import ARCHITECTURES, MODEL_KINDS
from keras_vae.models.vae import OBJECTIVES
from keras_vae.posteriors import POSTERIORS
from keras_vae.priors import PRIORS

# Settings that steer one invocation of `train` and may differ when a killed run is
# resumed; every other field must match the run's own (see `TrainSettings.differences`).
RUN_CONTROL_FIELDS = ("out", "overwrite", "verbose", "epochs")

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


class SettingsError(ValueError):
    """Settings that cannot be used; the message names the field and the problem."""


@dataclasses.dataclass
class TrainSettings:
    """Settings of one training run; the defaults train the README's default model.

    Args:
        dataset: str, default "fashion_mnist". A TFDS image dataset name, or a sprites set drawn by
            keras-vae ("sprites", "sprites_medium", "sprites_small"; `keras_vae.data.sprites`);
            ignored when `data` is set. For sprites, `data_dir` is the cache folder.
        data: str or None, default None. A folder of PNG/JPEG images, a .npy/.npz array, or a
            table (.csv, or a 2-D .npy array: one row of features per example).
        data_dir: str or None, default None. TFDS data directory (None: TFDS' default).
        architecture: str, default "mlp". "mlp" or "conv".
        latent_dim: int, default 32.
        likelihood: str, default "bernoulli". A name in `keras_vae.likelihoods.LIKELIHOODS`: "bernoulli",
            "gaussian", "continuous_bernoulli", "heteroscedastic_gaussian" or "discretized_logistic"
            (8-bit images: data k/255, needs binarize "none").
        gaussian_scale: float or None, default None. Fixed sigma of a Gaussian likelihood; None learns it.
        binarize: str, default "dynamic". "none", "dynamic" or "static".
        epochs: int, default 30.
        steps_per_epoch: int or None, default None (one pass over the training data).
        batch_size: int, default 128.
        learning_rate: float, default 1e-3. Adam's step size.
        beta: float, default 1.0. KL weight.
        num_samples: int, default 1. Monte Carlo samples of z per input (K of the IWAE bound).
        objective: str, default "elbo". "elbo", "iwae" (Burda et al. 2016; needs beta 1) or "tcvae"
            (beta-TCVAE, Chen et al. 2018: needs beta 1, the diagonal posterior; weight in tc_weight).
        tc_weight: float, default 1.0. Weight of the total correlation under objective "tcvae".
        free_bits: float, default 0.0. Per-dimension KL floor in nats (Kingma et al. 2016).
        prior: str, default "standard_normal". "standard_normal", "mixture" (learned mixture of
            Gaussians) or "vamp" (VampPrior, Tomczak & Welling 2018).
        posterior: str, default "diagonal". "diagonal", "full_covariance" or "iaf" (inverse
            autoregressive flow, Kingma et al. 2016).
        beta_schedule: str, default "constant". "constant", "linear" (warm-up from 0 to `beta`
            over `warmup_epochs`) or "cyclical" (Fu et al. 2019: cycles of 2 * `warmup_epochs`).
        warmup_epochs: int, default 10. Length of the beta warm-up.
        validation_fraction: float, default 0.1. Held-out share of a user's own data.
        seed: int, default 0.
        out: str, default "runs/default". The run directory.
        overwrite: bool, default False. Start afresh in a run directory that holds a trained model
            or an unfinished run, or train into a non-empty folder that is not a run (files the
            run did not write are never replaced or deleted).
        jit_compile: bool, default True. Compile the train step with XLA where that is faster and
            supported: on a machine without a GPU, the "conv" architecture (XLA's CPU convolutions are
            slower) and the "multi-worker" strategy (XLA:CPU has no collectives) run as a TensorFlow
            graph (`training.uses_xla`).
        deterministic: bool, default False. Enable TensorFlow op determinism
            (`tf.config.experimental.enable_op_determinism`): the same seed gives bitwise
            identical weights, at some speed cost.
        strategy: str, default "none". "none", "mirrored" (all local GPUs/CPU) or
            "multi-worker" (MultiWorkerMirroredStrategy from TF_CONFIG); see the README, "Training on several GPUs or a cluster".
            `batch_size` is the global batch, split over the replicas.
        verbose: int or str, default "auto". Keras' progress-bar setting.
        model: str, default "vae". "vae", "cvae" (conditional on the data's class labels),
            "ae" (autoencoder) or "dae" (denoising autoencoder).
        noise_std: float, default 0.2. Gaussian input noise of a "dae".
        mask_probability: float, default 0.0. Masking noise of a "dae".
        labels_per_class: int or None, default None. Semi-supervised kinds ("m2"): labelled
            examples per class, a balanced subset drawn from `seed` (`keras_vae.data.labelled_subset`);
            the rest of the training data is used without labels.
        labelled_examples: int or None, default None. Instead of `labels_per_class`: labelled
            examples in all (balanced over the classes).
        alpha: float or None, default None. "m2": weight of the labelled cross-entropy; None is the
            paper's 0.1 * N (`keras_vae.models.semi_supervised_vae.paper_alpha`).
        m1_run: str or None, default None. "m2" only: a finished VAE run (M1) whose posterior
            means z = E[q(z|x)] of its own data replace the images as the data (M1+M2, Kingma et
            al. 2014); `data`, `dataset` and `data_dir` then stay at their defaults.
        num_scales: int, default 2. Scales of a flow ("realnvp", "glow"); Glow squeezes num_scales
            times, RealNVP num_scales - 1 times, and height and width must divide by 2 per squeeze.
        steps_per_scale: int, default 4. Flow steps (couplings) per scale of a flow.
        hidden_channels: int, default 64. Width of a flow's coupling networks.
        activation: str, default "relu". The networks' hidden units: a Keras activation, or
            "gated" (GatedDense / GatedConv2D, Tomczak and Welling 2018).
        hidden_units: int or None, default None. Width of every hidden dense layer (None: the
            networks' defaults).
        early_stopping_patience: int, default 0. With n > 0, hold out `validation_fraction` of
            the training images, stop when the validation ELBO has not improved for n epochs
            and restore the best epoch's weights (0: off; validation on the test split).
        preset: str or None, default None. The `keras_vae.presets` entry these settings started
            from (recorded only; the preset's values are in the other fields).

    Example:
    >>> settings = TrainSettings(latent_dim=2, epochs=1)
    >>> settings.check()
    >>> TrainSettings.from_dict({"latent_dim": 2, "epochs": 1}) == settings
    True
    """

    dataset: str = "fashion_mnist"
    data: str = None
    data_dir: str = None
    architecture: str = "mlp"
    latent_dim: int = 32
    likelihood: str = "bernoulli"
    gaussian_scale: float = None
    binarize: str = "dynamic"
    epochs: int = 30
    steps_per_epoch: int = None
    batch_size: int = 128
    learning_rate: float = 1e-3
    beta: float = 1.0
    num_samples: int = 1
    objective: str = "elbo"
    free_bits: float = 0.0
    tc_weight: float = 1.0
    prior: str = "standard_normal"
    posterior: str = "diagonal"
    beta_schedule: str = "constant"
    warmup_epochs: int = 10
    validation_fraction: float = 0.1
    seed: int = 0
    out: str = "runs/default"
    overwrite: bool = False
    jit_compile: bool = True
    verbose: object = "auto"
    deterministic: bool = False
    strategy: str = "none"
    model: str = "vae"
    noise_std: float = 0.2
    mask_probability: float = 0.0
    labels_per_class: int = None
    labelled_examples: int = None
    alpha: float = None
    m1_run: str = None
    num_scales: int = 2
    steps_per_scale: int = 4
    hidden_channels: int = 64
    activation: str = "relu"
    hidden_units: int = None
    early_stopping_patience: int = 0
    preset: str = None

    @property
    def needs_labels(self):
        """True when the model kind trains on the data's class labels (its `trains_on_labels`)."""
        from keras_vae.models.builder import MODEL_KINDS  # the kinds import TensorFlow: only when asked

        return MODEL_KINDS[self.model].trains_on_labels

    @property
    def semi_supervised(self):
        """True when the model kind trains on a labelled subset plus unlabelled data (its `trains_semi_supervised`)."""
        from keras_vae.models.builder import MODEL_KINDS  # the kinds import TensorFlow: only when asked

        return MODEL_KINDS[self.model].trains_semi_supervised

    def model_options(self):
        """Returns the model kinds' own constructor options these settings hold (`build_model(**options)`)."""
        names = ("beta", "num_samples", "objective", "free_bits", "prior", "posterior", "noise_std", "mask_probability",
                 "num_scales", "steps_per_scale", "hidden_channels", "tc_weight")
        return {name: getattr(self, name) for name in names}

    @classmethod
    def from_dict(cls, values, where="settings"):
        """Returns the settings in `values` (a dict as `dataclasses.asdict` writes it), type-checked.

        Unknown keys are ignored and missing ones take their defaults, so the settings of
        runs written by other versions still load. Encoder/decoder options recorded for a kind
        that has none (a flow run's `latent_dim`: earlier versions accepted and ignored them) take
        their defaults too: the run trained without them. The values are then `check`ed.

        Args:
            values: dict.
            where: str, default "settings". How errors name the dict, e.g. "run/metrics.json, settings".

        Raises:
            SettingsError: `values` is no dict, or a field has the wrong type or an invalid value.

        Example:
        >>> TrainSettings.from_dict({"dataset": 5})
        Traceback (most recent call last):
        ...
        keras_vae.settings.SettingsError: settings: "dataset" must be a string, got 5 (int).
        """
        if not isinstance(values, dict):
            raise SettingsError(f"{where} must be a JSON object of settings, got {type(values).__name__}.")
        known = {}
        for field in dataclasses.fields(cls):
            if field.name in values:
                known[field.name] = _checked_type(field, values[field.name], where)
        kind = MODEL_KINDS.get(known.get("model", cls.model))
        if kind is not None:
            network_options = {name for other in MODEL_KINDS.values() for name in other.network_option_names}
            for name in network_options - set(kind.option_names) - set(kind.network_option_names):
                known.pop(name, None)
        settings = cls(**known)
        try:
            settings.check()
        except ValueError as error:
            raise SettingsError(f"{where}: {error}") from error
        return settings

    def differences(self, other):
        """Returns the names of the fields (beyond `RUN_CONTROL_FIELDS`) whose values differ from `other`'s.

        Example:
        >>> TrainSettings(seed=1, epochs=3).differences(TrainSettings(seed=7))
        ['seed']
        """
        return [
            field.name
            for field in dataclasses.fields(self)
            if field.name not in RUN_CONTROL_FIELDS and getattr(self, field.name) != getattr(other, field.name)
        ]

    def check(self):
        """Raises ValueError naming the first invalid setting and its valid values."""
        choices = {
            "architecture": sorted(ARCHITECTURES),
            "likelihood": sorted(LIKELIHOODS),
            "binarize": list(BINARIZATIONS),
            "objective": list(OBJECTIVES),
            "beta_schedule": list(BETA_SCHEDULES),
            "prior": sorted(PRIORS),
            "posterior": sorted(POSTERIORS),
            "strategy": list(STRATEGIES),
            "model": list(MODEL_KINDS),
        }
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise ValueError(f"Unknown {name} {getattr(self, name)!r}; choose one of {valid}.")
        for name in ("latent_dim", "epochs", "batch_size", "num_samples", "warmup_epochs", "num_scales",
                     "steps_per_scale", "hidden_channels"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be a positive integer, got {self.steps_per_epoch!r}.")
        if not (self.learning_rate > 0 and np.isfinite(self.learning_rate)):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}.")
        if not (self.beta >= 0 and np.isfinite(self.beta)):
            raise ValueError(f"beta must be a non-negative number, got {self.beta!r}.")
        if not (self.free_bits >= 0 and np.isfinite(self.free_bits)):
            raise ValueError(f"free_bits must be a non-negative number, got {self.free_bits!r}.")
        if self.objective == "iwae" and (self.beta != 1 or self.beta_schedule != "constant" or self.free_bits > 0):
            raise ValueError(
                "objective 'iwae' optimises the importance-weighted bound, which has no KL weight: use it with "
                "beta 1, beta_schedule 'constant' and free_bits 0."
            )
        if not (self.tc_weight >= 0 and np.isfinite(self.tc_weight)):
            raise ValueError(f"tc_weight must be a non-negative number, got {self.tc_weight!r}.")
        if self.objective == "tcvae" and (
            self.beta != 1 or self.beta_schedule != "constant" or self.free_bits > 0 or self.posterior != "diagonal"
        ):
            raise ValueError(
                "objective 'tcvae' (beta-TCVAE) weights the total correlation by tc_weight and the other KL terms "
                "by 1: use it with beta 1, beta_schedule 'constant', free_bits 0 and posterior 'diagonal', and set "
                "the weight with --tc-weight."
            )
        if self.gaussian_scale is not None and not self.gaussian_scale > 0:
            raise ValueError(f"gaussian_scale must be positive, got {self.gaussian_scale!r}.")
        if self.free_bits > 0 and (self.prior != "standard_normal" or self.posterior != "diagonal"):
            raise ValueError(
                "free_bits needs a KL per latent dimension, so the diagonal posterior and the standard normal "
                f"prior; got prior {self.prior!r} and posterior {self.posterior!r}."
            )
        if self.binarize != "none" and self.likelihood == "discretized_logistic":
            raise ValueError(
                f"binarize={self.binarize!r} makes binary data, but the discretized logistic likelihood models "
                "8-bit grey levels k/255; use binarize='none'."
            )
        if self.binarize != "none" and self.likelihood != "bernoulli":
            raise ValueError(
                f"binarize={self.binarize!r} makes binary data, which needs likelihood 'bernoulli'; "
                f"use binarize='none' with likelihood {self.likelihood!r}."
            )
        self._check_semi_supervised()
        if self.binarize != "none" and MODEL_KINDS[self.model].trains_on_grey_levels:
            raise ValueError(
                f"model {self.model!r} models 8-bit grey levels k/255 (exact likelihood of dequantised images), "
                f"but binarize={self.binarize!r} makes binary data; use binarize='none'."
            )
        defaults = TrainSettings()
        takes = MODEL_KINDS[self.model].option_names + MODEL_KINDS[self.model].network_option_names
        # Any kind's option that this kind lacks would be silently ignored: refuse it instead (the
        # kinds' own options first, then those of the standard encoder/decoder pair).
        kind_options = {name for kind in MODEL_KINDS.values() for name in kind.option_names}
        network_options = {name for kind in MODEL_KINDS.values() for name in kind.network_option_names}
        for name in sorted(kind_options - set(takes)) + sorted(network_options - kind_options - set(takes)):
            if hasattr(defaults, name) and getattr(self, name) != getattr(defaults, name):
                raise ValueError(
                    f"model {self.model!r} does not take {name} (it takes {list(takes)}); "
                    f"leave {name} at {getattr(defaults, name)!r} or choose another model."
                )
        if self.beta_schedule != defaults.beta_schedule and "beta" not in takes:
            raise ValueError(
                f"beta_schedule={self.beta_schedule!r} anneals beta, which model {self.model!r} does not take "
                f"(it takes {list(takes)}); leave beta_schedule at {defaults.beta_schedule!r}."
            )
        if self.preset is not None:
            from keras_vae.presets import PRESETS

            if self.preset not in PRESETS:
                raise ValueError(f"Unknown preset {self.preset!r}; choose one of {sorted(PRESETS)}.")
        if self.hidden_units is not None and (not isinstance(self.hidden_units, (int, np.integer)) or self.hidden_units < 1):
            raise ValueError(f"hidden_units must be a positive integer or None, got {self.hidden_units!r}.")
        if not isinstance(self.early_stopping_patience, (int, np.integer)) or self.early_stopping_patience < 0:
            raise ValueError(
                f"early_stopping_patience must be a non-negative integer (0: off), got {self.early_stopping_patience!r}."
            )
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must lie in (0, 1), got {self.validation_fraction!r}.")

    def _check_semi_supervised(self):
        given = [name for name in ("labels_per_class", "labelled_examples") if getattr(self, name) is not None]
        for name in given:
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if self.alpha is not None and not (self.alpha >= 0 and np.isfinite(self.alpha)):
            raise ValueError(f"alpha must be a non-negative number, got {self.alpha!r}.")
        if not self.semi_supervised:
            extra = given + [name for name in ("alpha", "m1_run") if getattr(self, name) is not None]
            if extra:
                raise ValueError(
                    f"{extra[0]} is for semi-supervised models (--model m2); --model {self.model} trains on all the "
                    "data. Drop it, or use --model m2."
                )
            return
        if len(given) != 1:
            raise ValueError(
                f"--model {self.model} learns from a few labels: give exactly one of --labels-per-class K and "
                f"--labelled-examples N (got {len(given)})."
            )
        if self.m1_run is not None and (self.likelihood != "gaussian" or self.binarize != "none"):
            raise ValueError(
                "m1_run: M2 then models the VAE's real-valued posterior means; pass --likelihood gaussian "
                f"(binarize 'none'), not likelihood {self.likelihood!r} with binarize {self.binarize!r}."
            )
        if self.m1_run is not None:
            # load_splits reads the M1 run's own data: these would be recorded but never used.
            defaults = TrainSettings()
            ignored = [(name, getattr(self, name)) for name in ("data", "dataset", "data_dir")
                       if getattr(self, name) != getattr(defaults, name)]
            if ignored:
                flag = "--" + ignored[0][0].replace("_", "-")
                raise ValueError(
                    f"--m1-run trains M2 on the M1 run's own data (its images mapped through its encoder), so "
                    f"{flag} {ignored[0][1]} would be ignored; drop {flag}, or train the M1 VAE on that data first "
                    "and pass its run as --m1-run."
                )


def _checked_type(field, value, where):
    """Returns `value` if it has the type of `field` (None where the default is None), else SettingsError."""
    expected = field.type
    if value is None and field.default is None:
        return value
    if expected is object:  # verbose: Keras takes an int or "auto"
        ok = isinstance(value, (int, str)) and not isinstance(value, bool)
    elif expected is bool:
        ok = isinstance(value, bool)
    elif expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok:
        wanted = _TYPE_NAMES.get(expected, "an integer or a string")
        if field.default is None:
            wanted += " or null"
        raise SettingsError(f'{where}: "{field.name}" must be {wanted}, got {value!r} ({type(value).__name__}).')
    return float(value) if expected is float else value


__all__ = ["RUN_CONTROL_FIELDS", "SettingsError", "TrainSettings"]
