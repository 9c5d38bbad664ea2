"""`keras-vae sample RUN_DIR [--n 64] [--seed 0] [--out FILE.png]`: a grid of prior samples.

The same model and seed give a byte-identical PNG.
"""

import os
import sys

from keras_vae.commands.arguments import positive_int


def add_parser(subparsers):
    """Adds the `sample` sub-command to an argparse `subparsers` object; returns its parser."""
    parser = subparsers.add_parser(
        "sample", help="decode prior samples of a trained run to a PNG", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `keras-vae train`")
    parser.add_argument("--n", type=positive_int, default=64, help="number of samples (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the prior draws (default: %(default)s)")
    parser.add_argument("--cols", type=positive_int, default=8, help="images per row (default: %(default)s)")
    parser.add_argument("--out", default=None, help="output PNG (default: RUN_DIR/samples-seed<SEED>.png)")
    parser.add_argument("--label", type=int, default=None, help="class to sample (conditional models only)")
    parser.set_defaults(run=run)
    return parser


def run(args):
    """Runs `keras-vae sample`; returns the exit code (0 ok, 2 error)."""
    from keras_vae import plotting
    from keras_vae.commands.plot import RunError, load_model

    n, seed, cols = getattr(args, "n", 64), getattr(args, "seed", 0), getattr(args, "cols", 8)
    out = getattr(args, "out", None) or os.path.join(args.run_dir, f"samples-seed{seed}.png")
    try:
        if n < 1 or cols < 1:
            raise RunError(f"--n and --cols must be positive integers, got {n} and {cols}.")
        if not out.lower().endswith(".png"):
            raise RunError(f"--out must name a .png file, got {out}.")
        model = load_model(args.run_dir)
        if getattr(args, "label", None) is not None and not getattr(model, "conditional", False):
            raise RunError(
                f"--label {args.label} given but this model is not conditional; it samples p(z) for all classes. "
                "Drop --label."
            )
        directory = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(directory):
            raise RunError(f"the output directory {directory} does not exist.")
        if getattr(args, "label", None) is not None:
            images = model.sample(n, seed=seed, label=args.label)
        else:
            images = model.sample(n, seed=seed)
        cols = min(cols, n)
        fig = plotting.image_grid(images, rows=-(-n // cols), cols=cols, title=f"Samples from the prior (seed {seed})")
        plotting.save_figure(fig, out)
    except (RunError, ValueError, OSError) as error:
        print(f"keras-vae sample: error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {n} samples (seed {seed}) to {out}")
    return 0
