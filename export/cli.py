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
    parser.add_argument(
        "--web", action="store_true",
        help="also write the latent explorer page (LiteRT.js in the browser) beside the TFLite decoders; "
        "serve it with `python -m http.server` in DIR/tflite",
    )
    parser.add_argument(
        "--model-base-path", default=None, metavar="PATH",
        help="the model's base path in models.config as TF Serving sees it, e.g. /models/vae in a container "
        "(default: this export's absolute saved_model/<name>)",
    )
    return parser


def run(args):
    """Runs the export for parsed arguments; prints the report table; returns the exit code."""
    try:
        report = export_run(args.run_dir, args.out, name=args.name, version=args.version, seed=args.seed,
                            web=args.web, model_base_path=args.model_base_path)
    # ValueError: a bad run or model; OSError: a bad --out (a file, a folder that is not an
    # export, another export running there: keras_vae.locking.LockHeld), an existing version,
    # or --web without LiteRT.js (a FileNotFoundError).
    except (ValueError, OSError) as error:
        print(f"keras-vae export: error: {error}", file=sys.stderr)
        return 2
    print(format_table(report))
    for path in report["removed_leftovers"]:
        print(f"removed {path}, the temporary directory of an export that was interrupted")
    for variant, reason in report.get("refused_variants", {}).items():
        print(f"{variant}: not exported: {reason}")
    print(f"exported version {report['version']} of {report['name']!r} to {args.out}")
    if "web" in report:
        print(f"latent explorer: {report['web']['serve']}, then open http://127.0.0.1:8000/")
    return 0
