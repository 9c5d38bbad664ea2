"""Semi-supervised Fashion-MNIST: supervised-only baseline, M1, M2 and M1+M2 (Kingma et al. 2014).

    nice -n 5 python bench/bench_semi_supervised.py [--out bench/results/semi_supervised.json]
                                                    [--label-counts 100 600 1000 3000] [--draws 3]
                                                    [--m1-vae-steps N] [--m2-steps N] [--m1m2-steps N]
                                                    [--binarize none|dynamic] [--rows baseline,m1,m1m2,m2]

For each label count and each draw of the balanced labelled subset (`labelled_subset`, seed =
draw), on Fashion-MNIST (60,000 training images, all used unlabelled; 10,000 test images):

    baseline  `MLPClassifier` (500-500 softplus, the one M2 uses) on the labelled images alone
    M1        a VAE (MLP 512-256, z = 32, Bernoulli likelihood) trained once on all training
              images; the same classifier network on the posterior means of the labelled images.
              A softmax network rather than the paper's transductive SVM: it is the classifier the
              other rows use, so M1's row measures the representation alone.
    M2        `SemiSupervisedVAE` on the images (z = 32), mixed batches of 100 unlabelled + 25 labelled
    M1+M2     `SemiSupervisedVAE` on M1's posterior means (Gaussian likelihood, z = 16)
    baseline_binary  (--rows) the baseline on binarized images, what M1 and M2 see with --binarize dynamic
    baseline_matched (--rows) the baseline trained on as many labelled images as M2's classifier sees
                     (25 per batch for --m2-steps batches: 500 epochs of 100 labels, 17 of 3,000)

The Bernoulli likelihoods of M1's VAE and of M2 see grey levels by default (`--binarize none`):
their cross-entropy sum_i x_i log p_i + (1 - x_i) log(1 - p_i) is the expectation of the binarized
images' log-likelihood over dynamic binarization, while the encoders and classifiers see the grey
images every row's classifier sees. With `--binarize dynamic` (the earlier runs) the models and their
classifiers see a new binarization at every pass, and classify one fixed binarization of the test set.

Test error (%) per row: mean and standard deviation over the draws, and training seconds on
this machine. The default budget is sized for at most 35 minutes of wall time under `nice -n 5` on
2 shared vCPUs (the --*-steps flags set longer ones); the default step counts are what fits that budget (the paper trains for thousands
of epochs), so they are a small-budget measurement, not a reproduction. Results are written
after every row, so a cut run keeps what it finished.
"""

import argparse
import json
import os
import platform
import sys
import time

import keras
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from keras_vae import MLPDecoder, MLPEncoder, atomic  # noqa: E402
from keras_vae.data import labelled_subset, load_tfds_images, make_epoch_dataset, make_semi_supervised_dataset  # noqa: E402
from keras_vae.data.pipeline import binarize_static  # noqa: E402
from keras_vae.models import build_vae  # noqa: E402
from keras_vae.models.semi_supervised_vae import SemiSupervisedVAE, paper_alpha  # noqa: E402
from keras_vae.networks.classifier import MLPClassifier  # noqa: E402

BUDGET = {
    "m1_vae_steps": 1200,  # batch 128: about 2.6 epochs of the 60,000 images
    "baseline_epochs": 100,  # over the labelled set, batch 25
    "m2_steps": 300,
    "m1m2_steps": 1000,
    "wall_budget_minutes": 35,
}


def supervised(features, labels, test_features, test_labels, seed, binarize="none", epochs=None):
    """The baseline network trained on labelled examples alone; returns (test error %, seconds).

    `epochs` (default: `baseline_epochs` x 100 / the labels, at least 10) passes of batch 25.

    With binarize="dynamic" it sees the images as M2 and M1 do under `--binarize dynamic`: a
    new Bernoulli draw of every image at every pass (give it binarized test images too).
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(features.shape[1:])
    model = keras.Model(inputs, MLPClassifier(10, name="classifier")(inputs))
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = time.perf_counter()
    # The same number of gradient steps for every label count would starve 3000 labels; epochs scale instead.
    epochs = epochs or max(10, BUDGET["baseline_epochs"] * 100 // len(labels))
    if binarize == "none":
        model.fit(features, labels, epochs=epochs, batch_size=25, verbose=0)
    else:
        data, steps = make_epoch_dataset(features, labels, batch_size=25, binarize=binarize, seed=seed, epochs=epochs)
        model.fit(data, epochs=epochs, steps_per_epoch=steps, verbose=0)
    seconds = time.perf_counter() - start
    predictions = np.asarray(model.predict(test_features, batch_size=1000, verbose=0)).argmax(-1)
    return 100.0 * float(np.mean(predictions != test_labels)), seconds


def semi_supervised(features, labels, subset, test_features, test_labels, seed, steps, likelihood, latent_dim, binarize):
    """M2 on `features` with the labelled `subset`; returns (test error %, seconds)."""
    keras.utils.set_random_seed(seed)
    shape = features.shape[1:]
    model = SemiSupervisedVAE(
        MLPEncoder(latent_dim, hidden_units=(500, 500)),
        MLPDecoder(shape, hidden_units=(500, 500)),
        num_classes=10,
        alpha=paper_alpha(len(features), len(subset)),
        likelihood=likelihood,
        seed=seed,
    )
    model.build((None,) + shape)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    data, steps = make_semi_supervised_dataset(
        features, labels, subset, batch_size=100, labelled_batch_size=25, binarize=binarize, seed=seed,
        steps_per_epoch=steps,
    )
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, verbose=0)
    seconds = time.perf_counter() - start
    probabilities = np.concatenate([np.asarray(model.classify(test_features[i : i + 1000])) for i in range(0, len(test_features), 1000)])
    return 100.0 * float(np.mean(probabilities.argmax(-1) != test_labels)), seconds


def train_m1(images, binarize, seed=0):
    """The M1 VAE on all training images; returns (model, seconds)."""
    keras.utils.set_random_seed(seed)
    model = build_vae(images.shape[1:], latent_dim=32, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    data, steps = make_epoch_dataset(images, batch_size=128, binarize=binarize, seed=seed,
                                     steps_per_epoch=BUDGET["m1_vae_steps"])
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, verbose=0)
    return model, time.perf_counter() - start


def means(model, images):
    return np.concatenate([np.asarray(model.embed(images[i : i + 1000])) for i in range(0, len(images), 1000)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "semi_supervised.json"))
    parser.add_argument("--label-counts", type=int, nargs="+", default=[100, 600, 1000, 3000])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--smoke", action="store_true", help="a few steps of everything (checks the script only)")
    for key in ("m1_vae_steps", "baseline_epochs", "m2_steps", "m1m2_steps"):
        parser.add_argument("--" + key.replace("_", "-"), type=int, default=BUDGET[key],
                            help="training budget (default: %(default)s)")
    parser.add_argument("--rows", default="baseline,m1,m1m2,m2",
                        help="which rows to train (comma-separated; m1_active: M1 on the active units' means only; "
                             "baseline_binary: the baseline on binarized images, as M2 on pixels sees them; "
                             "baseline_matched: the baseline trained on as many labelled images as M2's classifier)")
    parser.add_argument("--binarize", choices=["none", "dynamic"], default="none",
                        help="what the Bernoulli likelihood of M1's VAE and of M2 on pixels sees: grey levels (its "
                             "cross-entropy, the expectation over dynamic binarizations; the classifiers then see the "
                             "grey images the baseline sees) or a new binarization at every pass (default: %(default)s)")
    args = parser.parse_args(argv)
    rows_to_run = set(args.rows.split(","))
    BUDGET.update({key: getattr(args, key) for key in ("m1_vae_steps", "baseline_epochs", "m2_steps", "m1m2_steps")})
    if args.smoke:
        BUDGET.update(m1_vae_steps=3, baseline_epochs=1, m2_steps=3, m1m2_steps=3)
    started = time.perf_counter()
    x, y = load_tfds_images("fashion_mnist", "train", data_dir=args.data_dir)
    x_test, y_test = load_tfds_images("fashion_mnist", "test", data_dir=args.data_dir)
    # One fixed binarization of the test set: what a model trained on binarized images classifies.
    x_test_binary = binarize_static(x_test, seed=1)
    # What M2 on pixels classifies: the test images as it was trained on them.
    x_test_pixels = x_test_binary if args.binarize == "dynamic" else x_test
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_at_start": os.getloadavg()},
        "budget": BUDGET,
        "binarize": args.binarize,
        "dataset": "fashion_mnist: 60000 train (all unlabelled too), 10000 test",
        "rows": [],
    }

    def save():
        result["wall_seconds"] = time.perf_counter() - started
        result["load_average_at_end"] = os.getloadavg()
        atomic.write_json(args.out, result)

    if rows_to_run & {"m1", "m1_active", "m1m2"}:
        m1, m1_seconds = train_m1(x, args.binarize)
        z, z_test = means(m1, x), means(m1, x_test)
        result["m1_vae_seconds"] = m1_seconds
        # Active units (Burda et al. 2016): the means that vary over the data; the others carry no information.
        active = np.var(z, axis=0) > 0.01
        result["m1_active_units"] = int(active.sum())
        z_active, z_test_active = z[:, active], z_test[:, active]
        save()
    # Draws outermost: a run cut by its wall budget still has every label count.
    for draw in range(args.draws):
        for count in args.label_counts:
            subset = labelled_subset(y, total=count, seed=draw)
            row = {"labels": count, "draw": draw}
            if "baseline" in rows_to_run:
                row["baseline_error"], row["baseline_seconds"] = supervised(x[subset], y[subset], x_test, y_test, draw)
            if "baseline_matched" in rows_to_run:
                # As many labelled images as M2's classifier sees: 25 in each of its m2_steps batches.
                row["baseline_matched_error"], row["baseline_matched_seconds"] = supervised(
                    x[subset], y[subset], x_test, y_test, draw, epochs=max(1, round(BUDGET["m2_steps"] * 25 / count)))
            if "baseline_binary" in rows_to_run:
                row["baseline_binary_error"], row["baseline_binary_seconds"] = supervised(
                    x[subset], y[subset], x_test_binary, y_test, draw, binarize="dynamic")
            if "m1" in rows_to_run:
                row["m1_error"], row["m1_seconds"] = supervised(z[subset], y[subset], z_test, y_test, draw)
            if "m1_active" in rows_to_run:
                row["m1_active_error"], row["m1_active_seconds"] = supervised(
                    z_active[subset], y[subset], z_test_active, y_test, draw)
            if "m1m2" in rows_to_run:
                row["m1m2_error"], row["m1m2_seconds"] = semi_supervised(
                    z, y, subset, z_test, y_test, draw, BUDGET["m1m2_steps"], "gaussian", 16, "none")
            if "m2" in rows_to_run:
                row["m2_error"], row["m2_seconds"] = semi_supervised(
                    x, y, subset, x_test_pixels, y_test, draw, BUDGET["m2_steps"], "bernoulli", 32, args.binarize)
            result["rows"].append(row)
            print(json.dumps(row), flush=True)
            result["summary"] = summarise(result["rows"], args.label_counts)
            save()
    print(json.dumps(result["summary"], indent=1))


def summarise(rows_all, label_counts):
    """Mean and standard deviation (over the draws done) of each row's test error and seconds."""
    summary = {}
    for count in label_counts:
        rows = [r for r in rows_all if r["labels"] == count]
        if not rows:
            continue
        summary[str(count)] = {
            name: {"mean_error": float(np.mean([r[f"{name}_error"] for r in rows])),
                   "std_error": float(np.std([r[f"{name}_error"] for r in rows], ddof=1)) if len(rows) > 1 else 0.0,
                   "mean_seconds": float(np.mean([r[f"{name}_seconds"] for r in rows]))}
            for name in ("baseline", "baseline_matched", "baseline_binary", "m1", "m1_active", "m2", "m1m2") if f"{name}_error" in rows[0]
        }
        summary[str(count)]["draws"] = len(rows)
    return summary


if __name__ == "__main__":
    main()
