"""`keras-vae experiment NAME... [--out DIR] [--fast]`: the tutorial's experiments, measured.

NAME is one or more of estimators, decoder_scale, latent_size, representations,
elbo_gap, draws, or `all` (`keras_vae.experiments`). Each trains its small models on
Fashion-MNIST (offline from Debian's package, see `keras_vae.data`), then writes
DIR/NAME.json (its numbers) and its figures as DIR/FIGURE.png. `--fast` is the test
suite's tiny budget (seconds, no claims); the default is the notebook's full budget.
"""

import math
import os
import sys

import numpy as np


def add_parser(subparsers):
    """Adds the `experiment` sub-command to an argparse `subparsers` object; returns its parser."""
    from keras_vae.experiments import EXPERIMENTS

    parser = subparsers.add_parser(
        "experiment", help="run the tutorial's experiments (figures + JSON)", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("names", metavar="NAME", nargs="+", choices=list(EXPERIMENTS) + ["all"],
                        help=f"experiments: {', '.join(EXPERIMENTS)} or all")
    parser.add_argument("--out", default="experiments", help="output directory (default: %(default)s)")
    parser.add_argument("--fast", action="store_true", help="the test suite's tiny budget (no claims)")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory (default: TFDS' own)")
    parser.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    parser.set_defaults(run=run)
    return parser


def json_ready(value):
    """Returns `value` with NumPy scalars and arrays as Python numbers and lists, and NaN/inf as None.

    Example:
    >>> json_ready({"a": np.float32(1.5), "b": [float("nan"), np.arange(2)]})
    {'a': 1.5, 'b': [None, [0, 1]]}
    """
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run(args):
    """Runs `keras-vae experiment`; returns the exit code (0 ok, 2 error)."""
    from keras_vae import atomic
    from keras_vae.data import DataError
    from keras_vae.experiments import EXPERIMENTS, FAST, FULL, run_experiments
    from keras_vae.plotting import save_figure

    names = list(EXPERIMENTS) if "all" in args.names else list(dict.fromkeys(args.names))
    out = os.path.abspath(args.out)
    try:
        if os.path.exists(out) and not os.path.isdir(out):
            raise ValueError(f"--out {out} is a file; give a directory.")
        if not os.path.isdir(os.path.dirname(out)):
            raise ValueError(f"the parent of --out ({os.path.dirname(out)}) does not exist.")
        os.makedirs(out, exist_ok=True)
        budget = FAST if args.fast else FULL
        for name, results, figures, seconds in run_experiments(names, budget, args.data_dir, args.seed):
            atomic.write_json(os.path.join(out, f"{name}.json"), json_ready({"results": results, "seconds": seconds,
                                                                               "fast": bool(args.fast)}))
            paths = [save_figure(fig, os.path.join(out, f"{figure}.png")) for figure, fig in figures.items()]
            print(f"{name}: {seconds:.0f} s; wrote {name}.json and {', '.join(os.path.basename(p) for p in paths)} "
                  f"to {out}")
    except (ValueError, OSError, DataError) as error:
        print(f"keras-vae experiment: error: {error}", file=sys.stderr)
        return 2
    return 0
