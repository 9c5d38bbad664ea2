"""The `keras-vae` command line: each sub-command parses its arguments and calls the library.

    keras-vae train     train a VAE and write a run directory
    keras-vae evaluate  importance-sampled log-likelihood of a run
    keras-vae export    SavedModel for TF Serving and TFLite decoders for phones
    keras-vae plot      every figure that applies to a run
    keras-vae sample    a PNG grid of prior samples
"""

import argparse
import importlib
import sys

# Sub-command name -> module with add_parser(subparsers) and run(args) -> exit code.
COMMANDS = {
    "train": "keras_vae.commands.train",
    "evaluate": "keras_vae.commands.evaluate",
    "export": "keras_vae.export.cli",
    "plot": "keras_vae.commands.plot",
    "sample": "keras_vae.commands.sample",
}


def build_parser():
    """Returns the argparse parser of `keras-vae`."""
    parser = argparse.ArgumentParser(prog="keras-vae", description="Variational autoencoders for Keras 3.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS.values():
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv=None):
    """Runs `keras-vae`; returns the process exit code."""
    args = build_parser().parse_args(argv)
    return importlib.import_module(COMMANDS[args.command]).run(args)


if __name__ == "__main__":
    sys.exit(main())
