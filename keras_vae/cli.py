"""The `keras-vae` command line: parses arguments and calls the library.

    keras-vae train [--dataset fashion_mnist | --data PATH] [--architecture mlp|conv] ...
"""

import argparse
import dataclasses
import sys


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _number(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def build_parser():
    """Returns the argparse parser of `keras-vae` (choices come from the library's registries)."""
    from keras_vae.data.pipeline import BINARIZATIONS
    from keras_vae.likelihoods import LIKELIHOODS
    from keras_vae.models.builder import ARCHITECTURES
    from keras_vae.callbacks import BETA_SCHEDULES
    from keras_vae.models.vae import OBJECTIVES
    from keras_vae.training import TrainSettings

    defaults = TrainSettings()
    parser = argparse.ArgumentParser(prog="keras-vae", description="Variational autoencoders for Keras 3.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a VAE and write a run directory")
    source = train.add_mutually_exclusive_group()
    source.add_argument("--dataset", default=defaults.dataset, help="TFDS image dataset (default: %(default)s)")
    source.add_argument("--data", help="a folder of PNG/JPEG images or a .npy/.npz array")
    train.add_argument("--data-dir", help="TFDS data directory (default: TFDS' own)")
    train.add_argument("--architecture", choices=sorted(ARCHITECTURES), default=defaults.architecture)
    train.add_argument("--latent-dim", type=_positive_int, default=defaults.latent_dim)
    train.add_argument("--likelihood", choices=sorted(LIKELIHOODS), default=defaults.likelihood)
    train.add_argument("--gaussian-scale", type=_number, default=None, help="fixed sigma (default: learned)")
    train.add_argument("--binarize", choices=list(BINARIZATIONS), default=None,
                       help="default: dynamic for bernoulli, none for gaussian")
    train.add_argument("--epochs", type=_positive_int, default=defaults.epochs)
    train.add_argument("--steps-per-epoch", type=_positive_int, default=None)
    train.add_argument("--batch-size", type=_positive_int, default=defaults.batch_size)
    train.add_argument("--learning-rate", type=_number, default=defaults.learning_rate)
    train.add_argument("--beta", type=_number, default=defaults.beta)
    train.add_argument("--num-samples", type=_positive_int, default=defaults.num_samples,
                       help="Monte Carlo samples of z per input")
    train.add_argument("--objective", choices=list(OBJECTIVES), default=defaults.objective,
                       help="training objective; iwae uses --num-samples as K (default: %(default)s)")
    train.add_argument("--free-bits", type=_number, default=defaults.free_bits,
                       help="per-dimension KL floor in nats (default: %(default)s)")
    train.add_argument("--beta-schedule", choices=list(BETA_SCHEDULES), default=defaults.beta_schedule,
                       help="KL weight schedule (default: %(default)s)")
    train.add_argument("--warmup-epochs", type=_positive_int, default=defaults.warmup_epochs,
                       help="epochs of the linear warm-up (cyclical: half a cycle) (default: %(default)s)")
    train.add_argument("--validation-fraction", type=_number, default=defaults.validation_fraction)
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--out", default=defaults.out, help="run directory (default: %(default)s)")
    train.add_argument("--overwrite", action="store_true", help="replace a trained model in --out")
    train.add_argument("--no-jit", dest="jit_compile", action="store_false", help="disable XLA compilation")

    evaluate = commands.add_parser("evaluate", help="importance-sampled log-likelihood of a trained run")
    evaluate.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `keras-vae train`")
    evaluate.add_argument("--importance-samples", type=_positive_int, default=1000,
                          help="importance samples K per image (default: %(default)s)")
    evaluate.add_argument("--split", default="test", help="dataset split (default: %(default)s)")
    evaluate.add_argument("--max-examples", type=_positive_int, default=None, help="evaluate the first N images")
    evaluate.add_argument("--batch-size", type=_positive_int, default=100, help="(default: %(default)s)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the importance samples (default: 0)")
    evaluate.add_argument("--out", default=None, help="output JSON (default: RUN_DIR/evaluation.json)")

    from keras_vae.export import cli as export_cli

    export_cli.add_parser(commands)
    return parser


def main(argv=None):
    """Runs `keras-vae`; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from keras_vae.data import DataError
    from keras_vae.training import TrainSettings, train

    if args.command == "train":
        values = vars(args).copy()
        values.pop("command")
        if values["binarize"] is None:
            values["binarize"] = "dynamic" if values["likelihood"] == "bernoulli" else "none"
        fields = {f.name for f in dataclasses.fields(TrainSettings)}
        settings = TrainSettings(**{k: v for k, v in values.items() if k in fields})
        try:
            metrics = train(settings)
        except (ValueError, TypeError, FileExistsError, NotADirectoryError, FloatingPointError, DataError) as error:
            print(f"keras-vae train: error: {error}", file=sys.stderr)
            return 2
        test = metrics["test"]
        print(
            f"Test ELBO {test['elbo']:.2f} nats per example (reconstruction {test['reconstruction']:.2f}, "
            f"KL {test['kl']:.2f}); trained in {metrics['train_seconds']:.0f} s; artifacts in {settings.out}"
        )
    elif args.command == "evaluate":
        return _evaluate(args)
    elif args.command == "export":
        from keras_vae.export import cli as export_cli

        return export_cli.run(args)
    return 0


def _evaluate(args):
    import os

    from keras_vae.data import DataError
    from keras_vae.evaluation import EVALUATION_FILE, evaluate_run

    try:
        result = evaluate_run(
            args.run_dir,
            num_samples=args.importance_samples,
            split=args.split,
            max_examples=args.max_examples,
            out=args.out,
            batch_size=args.batch_size,
            seed=args.seed,
        )
    except (ValueError, TypeError, FileNotFoundError, DataError) as error:
        print(f"keras-vae evaluate: error: {error}", file=sys.stderr)
        return 2
    print(
        f"IS-{result['num_samples']} NLL {result['nll']:.2f} +- {result['nll_standard_error']:.2f} nats per example "
        f"({result['bits_per_dim']:.4f} bits/dim); ELBO {result['elbo']:.2f}; KL {result['kl']:.2f}; "
        f"{result['active_units']} active units; {result['num_examples']} {args.split} images in "
        f"{result['seconds']:.0f} s; written to {args.out or os.path.join(args.run_dir, EVALUATION_FILE)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
