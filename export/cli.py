"""The `keras-vae export` subcommand: `keras-vae export RUN_DIR --out DIR [--name vae]`."""

import sys

from keras_vae.export.exporter import export_run
from keras_vae.export.report import format_table


def add_parser(subparsers):
    """Adds the `export` subcommand to an argparse subparsers object; returns its parser.

    Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="keras-vae")
    >>> _ = add_parser(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["export", "runs/a", "--out", "exp"]).name
    'vae'
    """
    parser = subparsers.add_parser(
        "export",
        help="export a trained run to SavedModel (TF Serving) and TFLite decoders",
        description="Writes DIR/saved_model/<name>/<version>/, DIR/tflite/*.tflite and DIR/export_report.json "
        "for any model keras-vae train writes (vae, cvae, ae, dae).",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory holding model.keras")
    parser.add_argument("--out", required=True, metavar="DIR", help="export directory")
    parser.add_argument("--name", default="vae", help="served model name (default: %(default)s)")
    parser.add_argument("--version", type=int, default=None, help="model version (default: next free one)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the verification draws")
    return parser


def run(args):
    """Runs the export for parsed arguments; prints the report table; returns the exit code."""
    try:
        report = export_run(args.run_dir, args.out, name=args.name, version=args.version, seed=args.seed)
    # ValueError: a bad run or model; OSError: a bad --out (a file, a folder that is not an
    # export, another export running there: keras_vae.locking.LockHeld), or an existing version.
    except (ValueError, OSError) as error:
        print(f"keras-vae export: error: {error}", file=sys.stderr)
        return 2
    print(format_table(report))
    for path in report["removed_leftovers"]:
        print(f"removed {path}, the temporary directory of an export that was interrupted")
    print(f"exported version {report['version']} of {report['name']!r} to {args.out}")
    return 0
