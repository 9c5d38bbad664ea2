"""`keras-vae sample RUN_DIR [--n 64] [--seed 0] [--out FILE.png] [--label K] [--draw]`: a grid of prior samples.

A VAE run: `--n` images decoded from z ~ p(z). A class-conditional (cvae) run:
with `--label K`, `--n` images of class K; without it, one row per class, the same
z down each column (min(--cols, ceil(n / classes)) columns). Models without a prior
(autoencoder runs: ae, dae) cannot be sampled. The same model and seed give a
byte-identical PNG. The images are E[x|z]; `--draw` shows draws x ~ p(x|z) from the
run's likelihood instead (binary images for Bernoulli, noisy ones for a Gaussian).
"""

import os
import sys

from keras_vae.commands.arguments import positive_int
from keras_vae.data import tfds_class_names
from keras_vae.models.generative_model import PRIOR
from keras_vae.runs import Run, RunError


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
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="scale of the prior's std for kinds that sample at a temperature (flows; "
                             "default: %(default)s)")
    parser.add_argument(
        "--label", type=int, default=None, help="class to sample (conditional runs; default: one row per class)"
    )
    parser.add_argument(
        "--draw", action="store_true", help="draw x ~ p(x|z) instead of showing the mean E[x|z] (unconditional or --label)"
    )
    parser.set_defaults(run=run)
    return parser


def run_class_names(run_dir, num_classes):
    """Returns the class names of a run's TFDS dataset when they are known and fit, else None."""
    try:
        settings = Run(run_dir).settings()
    except RunError:
        return None  # names only label the rows; a run without readable settings still samples
    names = None if settings.data else tfds_class_names(settings.dataset)
    return names if names is not None and len(names) == num_classes else None


def sample_figure(model, run_dir, n, seed, cols, label=None, draw=False, temperature=1.0):
    """Returns `(figure, description)` of the samples `keras-vae sample` writes for `model`.

    Dispatches on what the model can do (the model contract): it needs a prior
    (`model.can(PRIOR)`); a class-conditional model (`model.num_classes`) takes
    `label`, and without one draws a grid with one row per class.

    Args:
        model: a loaded model of any kind (one without a prior raises RunError).
        run_dir: str. The run directory (for a conditional run's class names).
        n, seed, cols: int. As the command-line options.
        label: int or None. Class of a class-conditional model.
        draw: bool, default False. Draws x ~ p(x|z) instead of E[x|z].
        temperature: float, default 1.0. Only for kinds with `samples_at_temperature` (flows).

    Raises:
        RunError: the model cannot be sampled as asked (no prior, a label for an
            unconditional model, a label out of range, a vector condition, a temperature it
            refuses (`check_temperature`), --draw for a kind whose samples are draws already).
    """
    import numpy as np

    from keras_vae import plotting

    if not model.can(PRIOR):
        raise RunError(
            f"this run's model ({type(model).__name__}) has no prior to sample from; "
            "`keras-vae plot` draws its reconstructions and latent space."
        )
    num_classes = model.num_classes
    try:
        model.check_temperature(temperature)
    except ValueError as error:
        raise RunError(str(error)) from error  # the command's error type, the kind's own message
    if draw and not model.draws_from_likelihood:
        raise RunError(
            f"--draw has no effect on this {type(model).__name__} run: its samples are draws from the model already "
            "(x = f^-1(z), no p(x|z) to draw from), so --draw would give the same images; drop --draw."
        )
    if label is not None and not model.takes_condition:
        raise RunError(
            f"--label {label} given but this model is not conditional on classes; it samples p(z) for all "
            "classes. Drop --label."
        )
    if model.takes_condition and not num_classes:
        raise RunError(
            "this model is conditioned on vectors, which `keras-vae sample` cannot give; "
            "sample it from Python with model.sample(n, seed, condition=vectors)."
        )
    if label is not None and not 0 <= label < num_classes:
        raise RunError(f"--label {label} is out of range: this model has {num_classes} classes, 0..{num_classes - 1}.")
    if draw and num_classes and label is None:
        raise RunError("--draw with a class-conditional run needs --label K (the one-row-per-class grid shows means).")
    if num_classes and label is None:
        per_class = min(cols, -(-n // num_classes))
        names = run_class_names(run_dir, num_classes)
        fig = plotting.plot_class_samples(model, per_class=per_class, seed=seed, class_names=names)
        return fig, f"{num_classes} classes x {per_class} samples (seed {seed})"
    cols = min(cols, n)
    if label is None:
        kind = "draws x ~ p(x|z)" if draw else "samples"
        if float(temperature) != 1.0:
            kind += f" at temperature {temperature:g}"
        figure = plotting.plot_samples(model, n, seed=seed, cols=cols, draw=draw, temperature=temperature)
        return figure, f"{n} {kind} (seed {seed})"
    names = run_class_names(run_dir, num_classes)
    name = names[label] if names else f"class {label}"
    fig = plotting.plot_samples(
        model, n, seed=seed, cols=cols, condition=np.full(n, label), draw=draw,
        title=f"{'Draws' if draw else 'Samples'} of {name} (seed {seed})",
    )
    return fig, f"{n} samples of class {label} (seed {seed})"


def run(args):
    """Runs `keras-vae sample`; returns the exit code (0 ok, 2 error)."""
    from keras_vae import plotting

    n, seed, cols = args.n, args.seed, args.cols
    out = args.out or os.path.join(args.run_dir, f"samples-seed{seed}.png")
    try:
        if n < 1 or cols < 1:
            raise RunError(f"--n and --cols must be positive integers, got {n} and {cols}.")
        if not out.lower().endswith(".png"):
            raise RunError(f"--out must name a .png file, got {out}.")
        model = Run(args.run_dir).load_model()
        directory = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(directory):
            raise RunError(f"the output directory {directory} does not exist.")
        fig, description = sample_figure(model, args.run_dir, n, seed, cols, args.label, args.draw, args.temperature)
        plotting.save_figure(fig, out)
    except (RunError, ValueError, OSError) as error:
        print(f"keras-vae sample: error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {description} to {out}")
    return 0
