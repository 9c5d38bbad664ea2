"""`keras-vae plot RUN_DIR [--out DIR]`: every figure that applies to a trained run.

Writes, into RUN_DIR/figures by default:

    samples.png               images decoded from prior draws (unconditional models)
    class_samples.png         one row per class, the same z down each column (class-conditional models)
    analogies.png             test images' z decoded under every class (class-conditional models)
    confusion_matrix.png      true against predicted test classes (models with a classifier, m2)
    reconstructions.png       test inputs above their reconstructions
    manifold.png              the decoded latent grid (latent_dim == 2, unconditional)
    traversals.png            one latent dimension varied at a time (otherwise)
    latent_scatter.png        test codes coloured by class (PCA when latent_dim > 2)
    interpolation.png         decodings between pairs of test codes
    attribute_arithmetic.png  z + s * (class mean - others' mean) (unconditional, labelled data)
    training_curves.png       ELBO, reconstruction, KL per epoch (from history.csv)
    kl_traversals.png         runs on a sprites set (known factors): traversals of the units sorted by
                              their KL, largest first (models with a bound whose posterior and prior
                              factorise per unit)
    factor_information.png    runs on a sprites set: I(unit; factor) / H(factor) heat map
                              (`keras_vae.disentanglement.mutual_information_matrix`)

What applies follows what the model can do (the model contract), not its class.
Without a prior (autoencoders: ae, dae) there are no samples, manifold or
traversals. A conditional model (cvae) sees every test image with its label as the
condition: its reconstructions, codes and traversals use it, and its interpolations
join two test images of the same class, decoded under that class. Its samples are
class_samples.png; it gets no manifold (one grid would need one class, and no class
is more natural than another) and no attribute arithmetic (its attribute vectors
are class-mean differences, and the class reaches the decoder through the
condition, not through z).

The test images come from the run's own settings in metrics.json (TFDS dataset
and data dir, or the user's data with the run's seed and validation fraction),
binarized as the run's test ELBO saw them.
"""

import os
import sys

import numpy as np

from keras_vae.data.sprites import is_sprites
from keras_vae.models.capabilities import BOUND, CLASSIFY, PRIOR
from keras_vae.runs import Run, RunError, load_splits, model_inputs


def _pairs(labels, n_pairs, n, same_class=False):
    """Indices of up to `n_pairs` disjoint pairs of test images.

    With labels, the two images of a pair are of different classes, or of the same
    class when `same_class` (a conditional model decodes the path under one class).
    """
    if labels is None:
        count = min(n_pairs, n // 2)
        return np.arange(count), np.arange(count, 2 * count)
    first, second = [], []
    used = set()
    for i in range(n):
        if i in used:
            continue
        j = next(
            (j for j in range(i + 1, n) if j not in used and (labels[j] == labels[i]) == same_class), None
        )
        if j is None:
            continue
        used.update((i, j))
        first.append(i)
        second.append(j)
        if len(first) == n_pairs:
            break
    return np.asarray(first, int), np.asarray(second, int)


def write_figures(model, settings, run_dir, out, max_examples=2000, seed=None, attribute_class=None):
    """Writes every figure that applies to the run into `out`; returns the list of paths written.

    Which figures apply is decided from the model contract (`model.can(PRIOR)`,
    `model.takes_condition`, `model.num_classes`); see the module docstring.

    Args:
        model: the run's model (any kind of the model contract).
        settings: the run's `TrainSettings` (`keras_vae.runs.Run.settings`).
        run_dir: str. The run directory (for history.csv).
        out: str. Output directory, created if missing.
        max_examples: int or None, default 2000. Test images encoded for the scatter.
        seed: int or None, default None (the run's seed). Seed of the prior samples.
        attribute_class: int or None, default None (the most common test label).

    Usage, on a finished run (`keras-vae plot RUN_DIR` does this):

        run = Run("runs/default")
        write_figures(run.load_model(), run.settings(), run.path, f"{run.path}/figures")
    """
    from keras_vae import plotting

    seed = settings.seed if seed is None else seed
    test = load_splits(settings, ("test",), max_examples)["test"]
    originals, images, labels, class_names = test.examples, model_inputs(settings, test.examples), test.labels, test.class_names
    if len(images) < 2:
        raise RunError(f"the run's test split has {len(images)} image; at least 2 are needed for the figures.")
    if model.takes_condition and labels is None:
        raise RunError("this conditional run's test split has no labels to condition on.")
    if model.takes_condition and model.num_classes is None:
        raise RunError("this model is conditioned on vectors; the test split has class labels only.")
    condition = labels if model.takes_condition else None  # each test image's condition, or None

    def part(index):
        return None if condition is None else condition[index]

    os.makedirs(out, exist_ok=True)
    written = []

    def save(fig, name):
        written.append(plotting.save_figure(fig, os.path.join(out, name)))

    # A classifier on flat features (an M1+M2 run models M1's codes) gets no image figures.
    flat_classifier = model.can(CLASSIFY) and len(model.data_shape) != 3
    names = class_names if model.num_classes and class_names is not None and len(class_names) == model.num_classes else None
    if model.can(PRIOR) and model.num_classes and not flat_classifier:
        save(plotting.plot_class_samples(model, per_class=8, seed=seed, class_names=names), "class_samples.png")
    elif model.can(PRIOR) and not model.takes_condition:
        temperatures = plotting.SAMPLE_TEMPERATURES if model.samples_at_temperature else None
        save(plotting.plot_samples(model, n=64, seed=seed, temperatures=temperatures), "samples.png")
    if model.num_classes and model.takes_condition and len(model.data_shape) == 3:
        # One test image per class (as far as the test split has them): the paper's analogies.
        rows = [int(np.flatnonzero(labels == c)[0]) for c in range(model.num_classes) if np.any(labels == c)][:8]
        save(plotting.plot_class_analogies(model, images[rows], labels[rows], class_names=names), "analogies.png")
    if model.can(CLASSIFY) and labels is not None:
        from keras_vae.evaluation import classification_summary

        confusion = classification_summary(model, images, labels)["confusion_matrix"]
        save(plotting.plot_confusion_matrix(confusion, class_names=names if model.num_classes else None),
             "confusion_matrix.png")
    history = os.path.join(run_dir, "history.csv")
    if flat_classifier:
        if os.path.isfile(history):
            save(plotting.plot_training_curves(history), "training_curves.png")
        return written
    n_rec = min(24, max(8, (len(images) // 8) * 8))
    save(
        plotting.plot_reconstructions(
            model,
            images[:n_rec],
            originals=None if settings.binarize == "none" else originals[:n_rec],
            condition=part(slice(n_rec)),
        ),
        "reconstructions.png",
    )
    if model.can(PRIOR):
        if model.latent_dim == 2 and not model.takes_condition:
            save(plotting.plot_latent_manifold(model, n=15), "manifold.png")
        else:
            save(plotting.plot_latent_traversals(model, images[0], condition=part(0)), "traversals.png")
    save(
        plotting.plot_latent_scatter(
            model, images, labels, class_names=class_names, titles=[type(model).__name__], condition=condition
        ),
        "latent_scatter.png",
    )
    first, second = _pairs(labels, 4, len(images), same_class=model.takes_condition)
    if len(first):
        save(
            plotting.plot_interpolation(model, images[first], images[second], steps=10, condition=part(first)),
            "interpolation.png",
        )
    if not model.takes_condition and labels is not None and len(np.unique(labels)) > 1:
        if attribute_class is None:
            values, counts = np.unique(labels, return_counts=True)
            attribute_class = int(values[np.argmax(counts)])  # the most common class (smallest on ties)
        elif attribute_class not in set(labels.tolist()):
            raise RunError(f"--attribute-class {attribute_class} does not occur in the test labels.")
        base = np.flatnonzero(labels != attribute_class)[:4]
        save(
            plotting.plot_attribute_arithmetic(
                model, images, labels, attribute_class, images[base], class_names=class_names
            ),
            "attribute_arithmetic.png",
        )
    written += _disentanglement_figures(model, settings, images, out, seed)
    history = os.path.join(run_dir, "history.csv")
    if os.path.isfile(history):
        save(plotting.plot_training_curves(history), "training_curves.png")
    return written


def _disentanglement_figures(model, settings, images, out, seed, num_samples=2000):
    """KL-sorted traversals (factorised bound) and the factor information heat map (sprites runs)."""
    from keras_vae import plotting
    from keras_vae.disentanglement import FactorDataset, factor_entropy, mutual_information_matrix

    written = []
    kl = None
    if not is_sprites(settings.dataset) or settings.data or model.takes_condition:
        return written
    if model.can(BOUND) and model.can(PRIOR):
        try:
            kl = plotting.unit_kl(model, images[:500])
        except ValueError:  # a posterior or prior that does not factorise over units: no KL per unit
            kl = None
    if kl is not None:
        fig = plotting.plot_kl_sorted_traversals(model, images[0], kl)
        written.append(plotting.save_figure(fig, os.path.join(out, "kl_traversals.png")))
    # Every unconditional sprites run has codes to compare with the factors.
    data = FactorDataset.from_sprites(settings.dataset, cache_dir=settings.data_dir)
    factors = data.sample_factors(num_samples, np.random.default_rng(seed))
    codes = plotting.latent_codes(model, data.observations_for(factors))
    matrix = mutual_information_matrix(codes, factors)
    entropy = factor_entropy(factors)
    order = None if kl is None else np.argsort(-kl, kind="stable")
    fig = plotting.plot_factor_mutual_information(matrix / entropy, data.factor_names, unit_order=order)
    written.append(plotting.save_figure(fig, os.path.join(out, "factor_information.png")))
    return written


def add_parser(subparsers):
    """Adds the `plot` sub-command to an argparse `subparsers` object; returns its parser."""
    parser = subparsers.add_parser(
        "plot",
        help="write the figures of a trained run (samples, latent space, curves)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `keras-vae train`")
    parser.add_argument("--out", default=None, help="output directory (default: RUN_DIR/figures)")
    parser.add_argument(
        "--max-examples", type=int, default=2000, help="test images encoded for the scatter (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the prior samples (default: the run's seed)")
    parser.add_argument(
        "--attribute-class", type=int, default=None, help="label of the attribute vector (default: most common)"
    )
    parser.set_defaults(run=run)
    return parser


def run(args):
    """Runs `keras-vae plot`; returns the exit code (0 ok, 2 error)."""
    from keras_vae.data import DataError

    out = args.out or os.path.join(args.run_dir, "figures")
    max_examples = args.max_examples
    try:
        if max_examples is not None and max_examples < 2:
            raise RunError(f"--max-examples must be at least 2, got {max_examples}.")
        run = Run(args.run_dir)
        model = run.load_model()
        # Before any figure: a run without readable settings is refused, never drawn with defaults.
        settings = run.settings()
        written = write_figures(
            model,
            settings,
            args.run_dir,
            out,
            max_examples=max_examples,
            seed=args.seed,
            attribute_class=args.attribute_class,
        )
    except (RunError, DataError, ValueError, OSError) as error:
        print(f"keras-vae plot: error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {len(written)} figures to {out}: " + ", ".join(os.path.basename(p) for p in written))
    return 0
