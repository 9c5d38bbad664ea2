"""The `keras-vae` command line: each sub-command parses its arguments and calls the library.

    keras-vae train     train a VAE and write a run directory
    keras-vae evaluate  importance-sampled log-likelihood of a run
    keras-vae export    SavedModel for TF Serving and TFLite decoders for phones
    keras-vae plot      every figure that applies to a run
    keras-vae sample    a PNG grid of prior samples
    keras-vae experiment  the tutorial's experiments (figures + JSON)

TensorFlow's C++ start-up and converter log lines are filtered out of stderr
(`keras_vae.native_logs`); `--verbose`, before or after the sub-command, keeps them.
"""

import argparse
import contextlib
import importlib
import sys

from keras_vae.native_logs import quiet_native_logs

# Sub-command name -> module with add_parser(subparsers) and run(args) -> exit code.
COMMANDS = {
    "train": "keras_vae.commands.train",
    "evaluate": "keras_vae.commands.evaluate",
    "export": "keras_vae.export.cli",
    "plot": "keras_vae.commands.plot",
    "sample": "keras_vae.commands.sample",
    "experiment": "keras_vae.commands.experiment",
}


def build_parser():
    """Returns the argparse parser of `keras-vae`."""
    parser = argparse.ArgumentParser(prog="keras-vae", description="Variational autoencoders for Keras 3.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's C++ log lines (hidden by default)")
    for module in COMMANDS.values():
        sub = importlib.import_module(module).add_parser(subparsers)
        if sub is not None and "--verbose" not in sub._option_string_actions:
            sub.add_argument("--verbose", action="store_true", help="show TensorFlow's C++ log lines (hidden by default)")
    return parser


def main(argv=None):
    """Runs `keras-vae`; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # Decided before the parser is built: building it imports TensorFlow, which logs at once.
    verbose = "--verbose" in argv
    with contextlib.nullcontext() if verbose else quiet_native_logs():
        args = build_parser().parse_args(argv)
        return importlib.import_module(COMMANDS[args.command]).run(args)


if __name__ == "__main__":
    sys.exit(main())
