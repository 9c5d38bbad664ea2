"""Benchmark of the presets (keras_vae.presets): IS-K test NLL against minutes of training on this machine.

For one preset, trains the preset's model with the preset's recipe (gated units, Adam at its
learning rate and batch size, KL warm-up, early stopping on a held-out validation split of
the training images with the best weights kept) for --minutes of training wall-clock, and at
each checkpoint (default 15, 30 and 60 minutes) evaluates the best weights so far:

  - the importance-sampled NLL, IS-K (default K = 5,000) in nats per test image, on the
    --eval-examples first test images (default all 10,000), binarized once (static draw,
    seed 1, as bench/bench_likelihood.py), beside the preset's published figure
    (Norouzi et al. 2020, IS-5000);
  - the test ELBO and KL, the epochs done, the active units (Burda et al. 2016, Var > 0.01;
    for an HVAE over z = [z1, z2], so out of 2 x 40).

Each run writes bench/results/presets_<preset><tag>.json after every checkpoint, and
bench/results/presets_nll_vs_minutes<tag>.png plots the NLL against training minutes for
every presets_*<tag>.json present. The time spent evaluating is not counted as training.

An evaluation can outlast the training (IS-5000 of a convolutional decoder on 10,000 images
runs for hours on 2 CPU cores), so the two can run apart: --save-dir keeps the weights each
checkpoint evaluates as a .keras file, --defer-evaluation only saves them during training, and
--evaluate-saved later evaluates every checkpoint not yet evaluated, the last one first (it holds
the preset's figure), writing the result file after each (an interrupted evaluation resumes at
the next checkpoint).

--evaluate-saved --subset N --paired-with PRESET estimates the full-test IS-K NLL instead: IS-K
on N random test images, image by image beside PRESET's saved weights, whose full-test NLL is
known; the difference of the two models varies far less between images than either NLL, so a
few hundred images give a standard error of a fraction of a nat (`_paired_estimate`). The
ELBO, KL and active units are then on all the test images, from a few draws per image.

    python bench/bench_presets.py --preset vae --minutes 60
    python bench/bench_presets.py --preset convhvae_vamp --minutes 60 --defer-evaluation --save-dir runs/presets
    python bench/bench_presets.py --preset convhvae_vamp --evaluate-saved
    # or, when that takes too long, a paired estimate from a random subset of the test images:
    python bench/bench_presets.py --preset convhvae_vamp --evaluate-saved --subset 300 --paired-with hvae_vamp
    # smoke test (seconds, not a measurement):
    python bench/bench_presets.py --preset hvae_vamp --minutes 0.5 --checkpoints 0.25,0.5 \\
        --eval-samples 10 --eval-examples 200 --tag _smoke
"""

import argparse
import glob
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_likelihood import RESULTS, _load, _machine  # noqa: E402

TEST_BINARIZATION_SEED = 1
# Draws per image per decoder call in --subset evaluations (x 100 images): at the default 25,000
# latents per call the ConvHVAE's activations outgrew this machine's 24 GB. The result does not change.
SUBSET_CHUNK = 40


def _float_list(text):
    return [float(part) for part in text.split(",") if part]


def _result_path(preset, tag):
    return os.path.join(RESULTS, f"presets_{preset}{tag}.json")


def _write(path, data):
    from keras_vae import atomic

    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic.write_json(path, data)
    print(f"wrote {path}", flush=True)


def _test_images(data_dir, eval_examples):
    from keras_vae.data import binarize_static

    return binarize_static(_load("test", data_dir), seed=TEST_BINARIZATION_SEED)[:eval_examples]


def _saved_model_path(args, train_seconds):
    return os.path.join(args.save_dir, f"presets_{args.preset}{args.tag}_{train_seconds / 60:.1f}min.keras")


def _evaluate(model, test_images, eval_samples):
    """IS-K NLL, ELBO, KL and active units of `model` on `test_images`, with the time it took."""
    from keras_vae.evaluation import evaluate_split

    start = time.perf_counter()
    result = evaluate_split(model, test_images, num_samples=eval_samples, batch_size=100)
    result.update({
        "eval_seconds": time.perf_counter() - start,
        "load_average_1_5_15_min": list(os.getloadavg()),
    })
    return result


def _report(record, entry, eval_samples):
    estimated = " (estimated from a subset)" if "nll_method" in record else ""
    print(f"{record['train_minutes']:6.1f} min, {record['epochs']:4d} epochs: IS-{eval_samples} NLL "
          f"{record['nll']:.2f}{estimated} (published {entry['published_nll']}), ELBO {record['elbo']:.2f}, "
          f"{record['active_units']} active units", flush=True)


def _pending_checkpoints(args):
    """The result file of a --defer-evaluation run and its checkpoints not yet evaluated, the last first."""
    path = _result_path(args.preset, args.tag)
    if not os.path.isfile(path):
        raise SystemExit(f"{path} not found: run the training first with --defer-evaluation --save-dir DIR.")
    with open(path) as f:
        data = json.load(f)
    # The last checkpoint first: it holds the preset's figure, the earlier ones only the curve.
    pending = sorted((record for record in data["history"] if "nll" not in record),
                     key=lambda record: -record["train_minutes"])
    missing = [record.get("saved_model") for record in pending
               if not record.get("saved_model") or not os.path.isfile(record["saved_model"])]
    if missing:
        raise SystemExit(f"{path}: saved weights not found for {len(missing)} checkpoint(s) ({missing}); "
                         "they are written by --save-dir during training.")
    return data, pending


def evaluate_saved(args):
    """Evaluates the checkpoints a --defer-evaluation run saved, the last first, writing the result file after each.

    The protocol (K, test images) is the one the training run recorded, not this command's flags.
    Checkpoints already evaluated are skipped, so an interrupted evaluation resumes where it stopped.
    """
    from keras_vae.models.loading import load_model
    from keras_vae.presets import PRESETS

    path = _result_path(args.preset, args.tag)
    data, pending = _pending_checkpoints(args)
    test_images = _test_images(args.data_dir, data["eval_examples"])
    for record in pending:
        model = load_model(record["saved_model"])
        record.update(_evaluate(model, test_images, data["eval_samples"]))
        record["machine_at_evaluation"] = _machine()
        _report(record, PRESETS[args.preset], data["eval_samples"])
        _write(path, data)
    plot(args.tag)
    return data


def _paired_reference(args, data, subset, subset_images):
    """The reference preset's per-image IS-K log p(x) on the subset, computed once and kept in the result file."""
    from keras_vae.evaluation import importance_sampled_log_likelihood
    from keras_vae.models.loading import load_model

    kept = data.get("paired_reference")
    if kept and kept["preset"] == args.paired_with and kept["subset_indices"] == subset.tolist():
        return kept
    path = _result_path(args.paired_with, args.tag)
    if not os.path.isfile(path):
        raise SystemExit(f"--paired-with {args.paired_with}: {path} not found; benchmark that preset first.")
    with open(path) as f:
        reference = json.load(f)
    last = reference["history"][-1]
    if last.get("num_examples") != data["eval_examples"] or last.get("num_samples") != data["eval_samples"] \
            or "nll_method" in last or not os.path.isfile(last.get("saved_model", "")):
        raise SystemExit(f"--paired-with {args.paired_with}: its last checkpoint needs an IS-{data['eval_samples']} "
                         f"NLL on all {data['eval_examples']} test images and its saved weights "
                         f"({last.get('saved_model')}); evaluate it with the full protocol first.")
    start = time.perf_counter()
    log_px = importance_sampled_log_likelihood(load_model(last["saved_model"]), subset_images,
                                               num_samples=data["eval_samples"])
    kept = {
        "preset": args.paired_with, "saved_model": last["saved_model"], "train_minutes": last["train_minutes"],
        "full_test_nll": last["nll"], "subset_indices": subset.tolist(),
        "subset_log_px": [float(v) for v in log_px], "eval_seconds": time.perf_counter() - start,
    }
    data["paired_reference"] = kept
    return kept


def _paired_estimate(log_px, reference):
    """Full-test NLL estimated from a subset, paired with a reference whose full-test NLL is known.

    With d_i = NLL_i(model) - NLL_i(reference) on the n subset images (drawn without replacement
    from the N test images), the estimate is NLL_full(reference) + mean(d), with standard error
    sd(d) / sqrt(n) * sqrt(1 - n / N): the error of the subset draw alone. The two models' NLLs
    are strongly correlated image by image, so sd(d) is far below sd(NLL_i).
    """
    import numpy as np

    reference_log_px = np.asarray(reference["subset_log_px"], np.float64)
    difference = reference_log_px - np.asarray(log_px, np.float64)  # NLL_i(model) - NLL_i(reference)
    n, total = len(difference), reference["test_images"]
    se = float(np.std(difference, ddof=1) / np.sqrt(n) * np.sqrt(1.0 - n / total))
    return {
        "nll": float(reference["full_test_nll"] + difference.mean()),
        "nll_standard_error": se,
        "nll_method": f"paired subset estimate: IS-K on {n} random test images beside {reference['preset']}",
        "subset": {
            "images": n, "nll": float(-np.mean(log_px)),
            "nll_standard_error": float(np.std(log_px, ddof=1) / np.sqrt(n)),
            "reference_nll": float(-reference_log_px.mean()), "mean_difference": float(difference.mean()),
            "difference_sd": float(np.std(difference, ddof=1)),
        },
    }


def evaluate_saved_subset(args):
    """Estimates each pending checkpoint's IS-K test NLL from a random subset of the test images.

    For models whose IS-5000 on all 10,000 test images outlasts a working session (hours per
    checkpoint on 2 CPU cores): IS-K on --subset random test images (seed --subset-seed), paired
    image by image with the saved weights of a --paired-with preset whose full-test NLL is known
    (`_paired_estimate`). The ELBO, KL and active units are on all the test images, from
    --elbo-samples draws per image. The record says which NLL is an estimate.
    """
    import numpy as np

    from keras_vae.evaluation import evaluate_split, importance_sampled_log_likelihood
    from keras_vae.models.loading import load_model
    from keras_vae.presets import PRESETS

    data, pending = _pending_checkpoints(args)
    test_images = _test_images(args.data_dir, data["eval_examples"])
    if not 1 <= args.subset < len(test_images):
        raise SystemExit(f"--subset must be between 1 and {len(test_images) - 1} (the test images), got {args.subset}.")
    subset = np.sort(np.random.default_rng(args.subset_seed).choice(len(test_images), args.subset, replace=False))
    subset_images = test_images[subset]
    reference = dict(_paired_reference(args, data, subset, subset_images), test_images=len(test_images))
    _write(_result_path(args.preset, args.tag), data)
    for record in pending:
        model = load_model(record["saved_model"])
        start = time.perf_counter()
        log_px = importance_sampled_log_likelihood(model, subset_images, num_samples=data["eval_samples"],
                                                   chunk_size=SUBSET_CHUNK)
        record.update(_paired_estimate(log_px, reference))
        record["subset"]["eval_seconds"] = time.perf_counter() - start
        full = evaluate_split(model, test_images, num_samples=args.elbo_samples, batch_size=100)
        record.update({key: full[key] for key in ("elbo", "reconstruction", "kl", "active_units")})
        record.update({"elbo_draws_per_image": args.elbo_samples, "subset_seed": args.subset_seed,
                       "machine_at_evaluation": _machine()})
        _report(record, PRESETS[args.preset], data["eval_samples"])
        _write(_result_path(args.preset, args.tag), data)
    plot(args.tag)
    return data


def run(args):
    import keras
    import numpy as np

    from keras_vae import atomic
    from keras_vae.callbacks import make_beta_schedule
    from keras_vae.data import binarize_static, make_dataset
    from keras_vae.presets import PRESETS, preset_settings
    from keras_vae.runs import Split
    from keras_vae.settings import TrainSettings
    from keras_vae.training import _build, _hold_out

    settings = TrainSettings(**preset_settings(args.preset, seed=args.seed))
    settings.check()
    keras.utils.set_random_seed(settings.seed)
    train_images = _load("train", args.data_dir)
    if args.train_examples:
        train_images = train_images[: args.train_examples]
    kept, validation = _hold_out(Split(train_images), settings.validation_fraction, settings.seed)
    test_images = _test_images(args.data_dir, args.eval_examples)
    validation_images = binarize_static(validation.examples, seed=settings.seed + 1)
    model = _build(settings, train_images.shape[1:], None)
    train_data = make_dataset(
        kept.examples, batch_size=settings.batch_size, shuffle=True, binarize=settings.binarize, seed=settings.seed
    )
    validation_data = make_dataset(validation_images, batch_size=500, shuffle=False)
    schedule = make_beta_schedule(settings.beta_schedule, settings.warmup_epochs, settings.beta)
    callbacks = [schedule] if schedule is not None else []

    budget = args.minutes * 60.0
    checkpoints = sorted(c * 60.0 for c in args.checkpoints if c * 60.0 <= budget) or [budget]
    entry = PRESETS[args.preset]
    history = []
    data = {
        "preset": args.preset,
        "description": entry["description"],
        "settings": {k: v for k, v in vars(settings).items() if k not in ("out", "verbose", "overwrite")},
        "published_nll": {
            "value": entry["published_nll"],
            "source": "Norouzi et al. 2020 (Exemplar VAE), dynamically binarized Fashion-MNIST, IS-5000, "
                      "all 10,000 test images",
        },
        "minutes": args.minutes,
        "eval_samples": args.eval_samples,
        "eval_examples": int(len(test_images)),
        "test_binarization": f"static, seed {TEST_BINARIZATION_SEED}, once",
        "train_examples": int(len(kept.examples)),
        "validation_examples": int(len(validation_images)),
        "notes": "NLL at the best validation-ELBO weights so far (early stopping's restore_best_weights); "
                 "evaluation time not counted as training"
                 + ("; evaluated later, in a separate process, from the saved weights (--evaluate-saved)"
                    if args.defer_evaluation else ""),
        "history": history,
        "machine": _machine(),
    }
    path = _result_path(args.preset, args.tag)
    train_seconds, epoch, best, best_weights, waited, stopped = 0.0, 0, -np.inf, None, 0, False

    def checkpoint():
        current = model.get_weights()
        if best_weights is not None:
            model.set_weights(best_weights)
        record = {"train_minutes": train_seconds / 60.0, "epochs": epoch, "best_validation_elbo": float(best)}
        if args.save_dir:
            record["saved_model"] = _saved_model_path(args, train_seconds)
            atomic.save_model(model, record["saved_model"])
        if not args.defer_evaluation:
            record.update(_evaluate(model, test_images, args.eval_samples))
            _report(record, entry, args.eval_samples)
        model.set_weights(current)
        history.append(record)
        _write(path, data)

    while train_seconds < budget and epoch < settings.epochs and not stopped:
        start = time.perf_counter()
        model.fit(train_data, epochs=epoch + 1, initial_epoch=epoch, steps_per_epoch=args.steps_per_epoch,
                  callbacks=callbacks, verbose=0)
        validation_elbo = float(model.evaluate(validation_data, verbose=0, return_dict=True)["elbo"])
        train_seconds += time.perf_counter() - start
        epoch += 1
        if validation_elbo > best:
            best, best_weights, waited = validation_elbo, model.get_weights(), 0
        else:
            waited += 1
            stopped = waited >= settings.early_stopping_patience
        if checkpoints and train_seconds >= checkpoints[0]:
            while checkpoints and train_seconds >= checkpoints[0]:  # one evaluation for every checkpoint passed
                checkpoints.pop(0)
            checkpoint()
    if checkpoints or stopped:  # the budget or early stopping ended training before the last checkpoint
        data["ended"] = "early stopping" if stopped else "epoch cap"
        checkpoint()
    data["machine_at_end"] = _machine()
    _write(path, data)
    plot(args.tag)
    return data


def plot(tag):
    """Draws the NLL against training minutes for every presets_*<tag>.json; returns the PNG path."""
    from matplotlib.figure import Figure

    from keras_vae.plotting.png import save_figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    for path in sorted(glob.glob(os.path.join(RESULTS, f"presets_*{tag}.json"))):
        with open(path) as f:
            result = json.load(f)
        evaluated = [h for h in result["history"] if "nll" in h]  # a --defer-evaluation run has none yet
        if not evaluated:
            continue
        minutes = [h["train_minutes"] for h in evaluated]
        nll = [h["nll"] for h in evaluated]
        subsets = {h["subset"]["images"] for h in evaluated if "nll_method" in h}
        how = f", estimated from {max(subsets)} test images" if subsets else ""
        line, = ax.plot(minutes, nll, marker="o", label=f"{result['preset']} (IS-{result['eval_samples']}{how})")
        if result["published_nll"]["value"] is not None:
            ax.axhline(result["published_nll"]["value"], color=line.get_color(), linestyle=":", linewidth=1.5,
                       label=f"{result['preset']}, published {result['published_nll']['value']:.2f}")
    ax.margins(y=0.15)  # the published lines can sit at the data's edge
    ax.set_xlabel("training minutes (2 vCPU)")
    ax.set_ylabel("test NLL, nats per image")
    ax.set_title("Presets: NLL against training time (dotted: published)")
    ax.legend(fontsize=8)
    out = os.path.join(RESULTS, f"presets_nll_vs_minutes{tag}.png")
    save_figure(fig, out)
    print(f"wrote {out}", flush=True)
    return out


def main(argv=None):
    from keras_vae.presets import PRESETS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), required=True)
    parser.add_argument("--minutes", type=float, default=60.0, help="training budget (default: %(default)s)")
    parser.add_argument("--checkpoints", type=_float_list, default=[15.0, 30.0, 60.0],
                        help="minutes of training at which to evaluate (default: 15,30,60)")
    parser.add_argument("--eval-samples", type=int, default=5000, help="K of IS-K (default: %(default)s)")
    parser.add_argument("--eval-examples", type=int, default=10000, help="test images (default: all 10,000)")
    parser.add_argument("--train-examples", type=int, default=None, help="smoke tests: fewer training images")
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="smoke tests: shorter epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument("--tag", default="", help="suffix of the result files")
    parser.add_argument("--save-dir", default=None,
                        help="also save the best weights at each checkpoint as DIR/presets_<preset><tag>_<M>min.keras")
    parser.add_argument("--defer-evaluation", action="store_true",
                        help="at each checkpoint only save the weights (needs --save-dir); --evaluate-saved "
                             "evaluates them later")
    parser.add_argument("--evaluate-saved", action="store_true",
                        help="evaluate the checkpoints a --defer-evaluation run saved, filling in its result file")
    parser.add_argument("--subset", type=int, default=None,
                        help="with --evaluate-saved: estimate the NLL from IS-K on this many random test images, "
                             "paired with --paired-with (for models whose full evaluation takes hours)")
    parser.add_argument("--paired-with", choices=sorted(PRESETS), default=None,
                        help="with --subset: a preset evaluated on all test images, with its weights saved")
    parser.add_argument("--subset-seed", type=int, default=2, help="with --subset: which test images")
    parser.add_argument("--elbo-samples", type=int, default=10,
                        help="with --subset: draws per image for the ELBO, KL on all test images")
    args = parser.parse_args(argv)
    if (args.subset is None) != (args.paired_with is None) or (args.subset is not None and not args.evaluate_saved):
        parser.error("--subset N and --paired-with PRESET go together, with --evaluate-saved")
    if args.defer_evaluation and not args.save_dir:
        parser.error("--defer-evaluation needs --save-dir DIR, where the weights to evaluate later are kept")
    if args.save_dir:
        os.makedirs(args.save_dir, exist_ok=True)  # before training: a bad directory fails now, not at a checkpoint
    if args.evaluate_saved:
        evaluate_saved_subset(args) if args.subset is not None else evaluate_saved(args)
        return
    if args.minutes <= 0 or args.eval_samples < 1 or args.eval_examples < 1:
        parser.error("--minutes, --eval-samples and --eval-examples must be positive")
    run(args)


if __name__ == "__main__":
    main()
