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

    python bench/bench_presets.py --preset vae --minutes 60
    python bench/bench_presets.py --preset convhvae_vamp --minutes 60 --defer-evaluation --save-dir runs/presets
    python bench/bench_presets.py --preset convhvae_vamp --evaluate-saved
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
    print(f"{record['train_minutes']:6.1f} min, {record['epochs']:4d} epochs: IS-{eval_samples} NLL "
          f"{record['nll']:.2f} (published {entry['published_nll']}), ELBO {record['elbo']:.2f}, "
          f"{record['active_units']} active units", flush=True)


def evaluate_saved(args):
    """Evaluates the checkpoints a --defer-evaluation run saved, the last first, writing the result file after each.

    The protocol (K, test images) is the one the training run recorded, not this command's flags.
    Checkpoints already evaluated are skipped, so an interrupted evaluation resumes where it stopped.
    """
    from keras_vae.models.loading import load_model
    from keras_vae.presets import PRESETS

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
    test_images = _test_images(args.data_dir, data["eval_examples"])
    for record in pending:
        model = load_model(record["saved_model"])
        record.update(_evaluate(model, test_images, data["eval_samples"]))
        record["machine_at_evaluation"] = _machine()
        _report(record, PRESETS[args.preset], data["eval_samples"])
        _write(path, data)
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
        line, = ax.plot(minutes, nll, marker="o", label=f"{result['preset']} (IS-{result['eval_samples']})")
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
    args = parser.parse_args(argv)
    if args.defer_evaluation and not args.save_dir:
        parser.error("--defer-evaluation needs --save-dir DIR, where the weights to evaluate later are kept")
    if args.save_dir:
        os.makedirs(args.save_dir, exist_ok=True)  # before training: a bad directory fails now, not at a checkpoint
    if args.evaluate_saved:
        evaluate_saved(args)
        return
    if args.minutes <= 0 or args.eval_samples < 1 or args.eval_examples < 1:
        parser.error("--minutes, --eval-samples and --eval-examples must be positive")
    run(args)


if __name__ == "__main__":
    main()
