"""`keras-vae train`: train a VAE and write a run directory (see `keras_vae.training`)."""

import argparse
import dataclasses
import sys

from keras_vae.commands.arguments import number, positive_int

#: The likelihood a table (`--data` .csv or 2-D .npy) trains with when --likelihood is not given.
TABLE_LIKELIHOOD = "gaussian"


def add_parser(subparsers):
    """Adds the `train` sub-command to an argparse `subparsers` object; returns its parser."""
    from keras_vae.callbacks import BETA_SCHEDULES
    from keras_vae.data.pipeline import BINARIZATIONS
    from keras_vae.likelihoods import LIKELIHOODS
    from keras_vae.models.builder import ARCHITECTURES, MODEL_KINDS
    from keras_vae.models.vae import OBJECTIVES
    from keras_vae.posteriors import POSTERIORS
    from keras_vae.priors import PRIORS
    from keras_vae.settings import TrainSettings

    from keras_vae.presets import PRESETS, describe_presets

    defaults = TrainSettings()
    train = subparsers.add_parser(
        "train",
        help="train a VAE and write a run directory",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="presets (--preset NAME; flags given explicitly override the preset's values):\n  "
        + "\n  ".join(describe_presets()),
    )
    train.add_argument("--preset", choices=list(PRESETS), default=None,
                       help="start from a published model's settings (keras_vae.presets; listed below)")
    source = train.add_mutually_exclusive_group()
    source.add_argument("--dataset", default=defaults.dataset, help="TFDS image dataset, or sprites / sprites_medium / sprites_small: "
                             "shapes with known factors drawn by keras-vae (default: %(default)s)")
    source.add_argument("--data", help="a folder of PNG/JPEG images, a .npy/.npz array, or a .csv table "
                                          "(one row of features per example)")
    train.add_argument("--data-dir", help="TFDS data directory (default: TFDS' own)")
    train.add_argument("--architecture", choices=sorted(ARCHITECTURES), default=defaults.architecture,
                       help="encoder/decoder pair (default: %(default)s)")
    train.add_argument("--latent-dim", type=positive_int, default=defaults.latent_dim,
                       help="size of z (default: %(default)s)")
    train.add_argument("--likelihood", choices=sorted(LIKELIHOODS), default=None,
                       help=f"decoder distribution p(x|z) (default: {defaults.likelihood}; {TABLE_LIKELIHOOD} for a table)")
    train.add_argument("--gaussian-scale", type=number, default=None, help="fixed sigma (default: learned)")
    train.add_argument("--binarize", choices=list(BINARIZATIONS), default=None,
                       help="default: dynamic for bernoulli (none for m2 and the flows), none for the others")
    train.add_argument("--epochs", type=positive_int, default=defaults.epochs, help="(default: %(default)s)")
    train.add_argument("--steps-per-epoch", type=positive_int, default=None,
                       help="batches per epoch (default: one pass over the training data)")
    train.add_argument("--batch-size", type=positive_int, default=defaults.batch_size, help="(default: %(default)s)")
    train.add_argument("--learning-rate", type=number, default=defaults.learning_rate,
                       help="Adam learning rate (default: %(default)s)")
    train.add_argument("--beta", type=number, default=defaults.beta, help="KL weight (default: %(default)s)")
    train.add_argument("--num-samples", type=positive_int, default=defaults.num_samples,
                       help="Monte Carlo samples of z per input")
    train.add_argument("--objective", choices=list(OBJECTIVES), default=defaults.objective,
                       help="training objective; iwae uses --num-samples as K; tcvae is beta-TCVAE, weighted by "
                            "--tc-weight (default: %(default)s)")
    train.add_argument("--tc-weight", type=number, default=defaults.tc_weight,
                       help="tcvae: weight of the total correlation, beta-TCVAE's beta (default: %(default)s)")
    train.add_argument("--free-bits", type=number, default=defaults.free_bits,
                       help="per-dimension KL floor in nats (default: %(default)s)")
    train.add_argument("--prior", choices=sorted(PRIORS), default=defaults.prior,
                       help="p(z): standard_normal, mixture (learned MoG) or vamp (VampPrior) (default: %(default)s)")
    train.add_argument("--posterior", choices=sorted(POSTERIORS), default=defaults.posterior,
                       help="q(z|x): diagonal, full_covariance or iaf (default: %(default)s)")
    train.add_argument("--beta-schedule", choices=list(BETA_SCHEDULES), default=defaults.beta_schedule,
                       help="KL weight schedule (default: %(default)s)")
    train.add_argument("--warmup-epochs", type=positive_int, default=defaults.warmup_epochs,
                       help="epochs of the linear warm-up (cyclical: half a cycle) (default: %(default)s)")
    train.add_argument("--validation-fraction", type=number, default=defaults.validation_fraction,
                       help="held-out share of --data (default: %(default)s)")
    train.add_argument("--seed", type=int, default=defaults.seed, help="(default: %(default)s)")
    train.add_argument("--out", default=defaults.out, help="run directory (default: %(default)s)")
    train.add_argument("--overwrite", action="store_true",
                       help="start afresh in a run directory that holds a trained model or an unfinished run, or "
                            "train into a non-empty folder that is not a run (files the run did not write are "
                            "never replaced or deleted)")
    train.add_argument("--no-jit", dest="jit_compile", action="store_false", help="disable XLA compilation")
    train.add_argument("--deterministic", action="store_true",
                       help="enable TensorFlow op determinism: the same --seed gives identical weights")
    train.add_argument("--strategy", choices=["none", "mirrored", "multi-worker"], default=defaults.strategy,
                       help="tf.distribute strategy; --batch-size is the global batch (default: %(default)s)")
    train.add_argument("--model", choices=list(MODEL_KINDS), default=defaults.model,
                       help="vae, cvae (conditional on the data's class labels), hvae (two stochastic layers), ae "
                            "(autoencoder), dae (denoising autoencoder), m2 (semi-supervised, Kingma et al. 2014: give "
                            "--labels-per-class), realnvp or glow (normalizing flows) (default: %(default)s)")
    train.add_argument("--noise-std", type=number, default=defaults.noise_std,
                       help="dae: std of the Gaussian input noise (default: %(default)s)")
    train.add_argument("--mask-probability", type=number, default=defaults.mask_probability,
                       help="dae: probability of zeroing each input value (default: %(default)s)")
    train.add_argument("--labels-per-class", type=positive_int, default=None,
                       help="m2: labelled examples per class (a balanced subset drawn from --seed); the rest "
                            "of the data is used without labels")
    train.add_argument("--labelled-examples", type=positive_int, default=None,
                       help="m2: labelled examples in all, balanced over the classes (instead of --labels-per-class)")
    train.add_argument("--alpha", type=number, default=None,
                       help="m2: weight of the labelled cross-entropy (default: the paper's 0.1 * N, as 0.1 * N / N_labelled per batch)")
    train.add_argument("--m1-run", default=None,
                       help="m2: a finished --model vae run (M1); M2 then learns on its posterior means (M1+M2)")
    train.add_argument("--num-scales", type=positive_int, default=defaults.num_scales,
                       help="realnvp/glow: scales of the multi-scale flow (default: %(default)s)")
    train.add_argument("--steps-per-scale", type=positive_int, default=defaults.steps_per_scale,
                       help="realnvp/glow: flow steps per scale (default: %(default)s)")
    train.add_argument("--hidden-channels", type=positive_int, default=defaults.hidden_channels,
                       help="realnvp/glow: width of the coupling networks (default: %(default)s)")
    train.add_argument("--activation", default=defaults.activation,
                       help="hidden units: a Keras activation or gated (Tomczak and Welling 2018) "
                            "(default: %(default)s)")
    train.add_argument("--hidden-units", type=positive_int, default=None,
                       help="width of every hidden dense layer (default: the networks' own)")
    train.add_argument("--early-stopping-patience", type=int, default=defaults.early_stopping_patience,
                       help="hold out --validation-fraction of the training images and stop after this many "
                            "epochs without a better validation ELBO, restoring the best weights (0: off; "
                            "default: %(default)s)")
    _record_explicit_flags(train)
    return train


def _record_explicit_flags(parser):
    # A preset fills the settings; only the flags the user typed may override it, so each action
    # notes its dest in args._explicit when argparse calls it (defaults never call actions).
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        base = type(action)

        def call(self, parser, namespace, values, option_string=None, _base=base):
            _base.__call__(self, parser, namespace, values, option_string)
            explicit = set(getattr(namespace, "_explicit", ()))
            explicit.add(self.dest)
            namespace._explicit = explicit

        action.__class__ = type(f"Recorded{base.__name__}", (base,), {"__call__": call})


def settings_from_args(args):
    """Returns the `TrainSettings` that parsed `train` arguments describe."""
    from keras_vae.settings import TrainSettings

    values = vars(args).copy()
    explicit = values.pop("_explicit", set())
    if values.get("preset"):
        from keras_vae.presets import preset_settings

        given = {name: value for name, value in values.items() if name in explicit}
        values = {**values, **preset_settings(values["preset"]), **given}
    values.pop("verbose", None)  # the CLI's --verbose shows TensorFlow's C++ logs; Keras' progress bar keeps its default
    from keras_vae.data.tables import is_table_file
    from keras_vae.models.builder import MODEL_KINDS

    kind = MODEL_KINDS.get(values.get("model"))
    table = bool(values.get("data")) and is_table_file(values["data"])
    if values.get("likelihood") is None:
        # Table rows are real-valued features (README, "Tables"); a kind without a decoder likelihood
        # (a flow) keeps the default, which it is not refused for.
        takes_likelihood = kind is None or "likelihood" in kind.network_option_names
        values["likelihood"] = TABLE_LIKELIHOOD if table and takes_likelihood else TrainSettings().likelihood
    if values.get("binarize") is None:
        binarizes = kind is None or (kind.binarizes_by_default and not kind.trains_on_grey_levels)
        # Binarization is for images: a table's rows are modelled as they are.
        values["binarize"] = "dynamic" if values["likelihood"] == "bernoulli" and binarizes and not table else "none"
    fields = {f.name for f in dataclasses.fields(TrainSettings)}
    return TrainSettings(**{k: v for k, v in values.items() if k in fields})


def run(args):
    """Runs `keras-vae train`; returns the exit code (0 ok, 2 error)."""
    from keras_vae.data import DataError
    from keras_vae.training import train

    settings = settings_from_args(args)
    try:
        metrics = train(settings)
    # RunError and DataError are ValueErrors; LockHeld (another training owns --out) is an OSError.
    except (ValueError, TypeError, OSError, FloatingPointError, DataError) as error:
        print(f"keras-vae train: error: {error}", file=sys.stderr)
        return 2
    test = metrics["test"]
    if "accuracy" in test:  # a semi-supervised model: its classifier and its bounds
        print(
            f"Test accuracy {test['accuracy']:.4f} (error {1 - test['accuracy']:.4f}) from "
            f"{metrics['labelled_subset']['num_labelled']} labels; labelled bound {test['labelled_bound']:.2f}, "
            f"unlabelled bound {test['unlabelled_bound']:.2f} nats per example; trained in "
            f"{metrics['train_seconds']:.0f} s; artifacts in {settings.out}"
        )
        return 0
    if "bits_per_dim" in test:  # an exact likelihood (a flow)
        print(
            f"Test NLL {test['loss']:.2f} nats per example ({test['bits_per_dim']:.4f} bits/dim, one uniform "
            f"dequantisation); trained in {metrics['train_seconds']:.0f} s; artifacts in {settings.out}"
        )
        return 0
    if "elbo" not in test:  # an autoencoder
        print(
            f"Test loss {test['loss']:.2f} (reconstruction {test['reconstruction']:.2f}); trained in "
            f"{metrics['train_seconds']:.0f} s; artifacts in {settings.out}"
        )
        return 0
    print(
        f"Test ELBO {test['elbo']:.2f} nats per example (reconstruction {test['reconstruction']:.2f}, "
        f"KL {test['kl']:.2f}); trained in {metrics['train_seconds']:.0f} s; artifacts in {settings.out}"
    )
    return 0
