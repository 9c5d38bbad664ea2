"""Test bits/dim on 8-bit Fashion-MNIST for RealNVP, Glow and a discretized-logistic VAE after a time budget.

Each model trains for --minutes of wall-clock (`model.fit`, Adam, batch --batch-size, XLA unless
--no-jit; the first step's compilation counts against the budget) on the 60,000 training images as 8-bit grey
levels k/255 (never binarized), then is evaluated on the first --test-examples test images:

    flows  exact: -(log p(y) - D ln 256) at y = (k + u) / 256, one u per image from seed 0 (the
           same dequantised test set for both flows; `keras_vae.evaluation.evaluate_exact`)
    VAE    IS-K (--importance-samples) of log P(k), the discretized logistic's probability mass
           (`keras_vae.evaluation.evaluate_split`): the same units, nats per image of the 8-bit data

bits/dim = NLL / (784 ln 2). With --checkpoints (minutes, e.g. 15,30,45) the same evaluation also runs at
those points of the training budget, its time not counted as training, so one 60-minute run gives the
curve. Also measured: training images/s (over the whole budget), test
evaluation images/s and sampling images/s (500 draws). Writes bench/results/flows_<minutes>min.json.

    nice -n 5 python bench/bench_flows.py --minutes 6
    python bench/bench_flows.py --minutes 60 --models glow vae --checkpoints 15,30,45
    python bench/bench_flows.py --minutes 60 --models glow --hidden-channels 64 --checkpoints 15,30,45
"""

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_likelihood import _machine  # noqa: E402  (the one machine description)
from bench_presets import _float_list  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
MODELS = {
    "realnvp": {"num_scales": 2, "steps_per_scale": 3, "hidden_channels": 32},
    "glow": {"num_scales": 2, "steps_per_scale": 4, "hidden_channels": 32},
    "vae": {"architecture": "conv", "latent_dim": 32, "likelihood": "discretized_logistic"},
}


def _evaluate(model, test, importance_samples):
    """The test NLL (exact for flows, IS-K for the VAE) and the seconds it took."""
    from keras_vae.evaluation import evaluate_exact, evaluate_split
    from keras_vae.models.capabilities import EXACT

    start = time.perf_counter()
    if model.can(EXACT):
        evaluation = evaluate_exact(model, test, batch_size=500, seed=0)
    else:
        evaluation = evaluate_split(model, test, num_samples=importance_samples, batch_size=100, seed=0)
    return evaluation, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="training wall-clock per model")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--checkpoints", type=_float_list,
                        default=[], help="comma-separated training minutes at which to evaluate too (default: none)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--test-examples", type=int, default=10_000)
    parser.add_argument("--importance-samples", type=int, default=100)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden-channels", type=int, default=None,
                        help="the flows' coupling-network width (default: 32, the width of the 15-minute table)")
    parser.add_argument("--steps-per-scale", type=int, default=None,
                        help="the flows' steps per scale (default: RealNVP 3, Glow 4)")
    parser.add_argument("--no-jit", dest="jit_compile", action="store_false",
                        help="no XLA: on a loaded machine compiling a flow's step can eat most of a short budget")
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    from keras_vae import atomic
    from keras_vae.data import load_tfds_images
    from keras_vae.models.builder import build_model

    train, _ = load_tfds_images("fashion_mnist", "train", data_dir=args.data_dir)
    test, _ = load_tfds_images("fashion_mnist", "test", data_dir=args.data_dir)
    test = test[: args.test_examples]

    class TimeLimit(keras.callbacks.Callback):
        def __init__(self, seconds):
            super().__init__()
            self.seconds, self.start, self.steps = seconds, None, 0

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            if time.perf_counter() - self.start > self.seconds:
                self.model.stop_training = True

    results = {
        "minutes_per_model": args.minutes,
        "batch_size": args.batch_size,
        "jit_compile": args.jit_compile,
        "learning_rate": args.learning_rate,
        "checkpoints_minutes": sorted(args.checkpoints),
        "test_examples": int(len(test)),
        "units": "bits per dimension of the 8-bit data (NLL in nats per image / (784 ln 2))",
        "machine_at_start": _machine(),
        "models": {},
    }
    flow_overrides = {key: value for key, value in (("hidden_channels", args.hidden_channels),
                                                     ("steps_per_scale", args.steps_per_scale)) if value is not None}
    tag = f"{args.minutes:g}min" + ("" if args.jit_compile else "_nojit") + (
        "" if args.models == list(MODELS) else "_" + "_".join(args.models)) + "".join(
        f"_{key}{value}" for key, value in flow_overrides.items())
    path = os.path.join(RESULTS, f"flows_{tag}.json")
    for name in args.models:
        keras.utils.set_random_seed(args.seed)
        options = dict(MODELS[name], **(flow_overrides if name != "vae" else {}))
        model = build_model(name, (28, 28, 1), seed=args.seed, **options)
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), jit_compile=args.jit_compile)

        # Training stops at each checkpoint for an evaluation and resumes; only fit's time counts.
        stops = sorted(c for c in args.checkpoints if 0 < c < args.minutes) + [args.minutes]
        train_seconds, train_steps, curve = 0.0, 0, []
        for stop in stops:
            limit = TimeLimit(stop * 60 - train_seconds)
            start = time.perf_counter()
            history = model.fit(train, batch_size=args.batch_size, epochs=10_000, callbacks=[limit], verbose=0)
            train_seconds += time.perf_counter() - start
            train_steps += limit.steps
            evaluation, eval_seconds = _evaluate(model, test, args.importance_samples)
            curve.append({
                "train_minutes": train_seconds / 60.0,
                "train_steps": train_steps,
                "test_bits_per_dim": evaluation["bits_per_dim"],
                "test_nll_nats": evaluation["nll"],
                "test_nll_standard_error": evaluation["nll_standard_error"],
                "eval_seconds": eval_seconds,
                "load_average_after": list(os.getloadavg()),
            })
            print(name, json.dumps(curve[-1]), file=sys.stderr, flush=True)
        start = time.perf_counter()
        np.asarray(model.sample(500, seed=1))
        sample_seconds = time.perf_counter() - start
        last = {k: float(v[-1]) for k, v in history.history.items()}
        results["models"][name] = {
            "options": options,
            "parameters": int(sum(int(np.prod(v.shape)) for v in model.trainable_variables)),
            "train_steps": train_steps,
            "train_seconds": train_seconds,
            "train_images_per_second": train_steps * args.batch_size / train_seconds,
            "last_epoch_train_metrics": last,
            "test_nll_nats": evaluation["nll"],
            "test_nll_standard_error": evaluation["nll_standard_error"],
            "test_bits_per_dim": evaluation["bits_per_dim"],
            "estimate": evaluation.get("estimate", f"IS-{args.importance_samples}"),
            "eval_images_per_second": len(test) / eval_seconds,
            "sample_images_per_second": 500 / sample_seconds,
            "load_average_after": list(os.getloadavg()),
            "curve": curve,
        }
        print(name, json.dumps(results["models"][name]), file=sys.stderr, flush=True)
        atomic.write_json(path, results)  # after every model, so a stopped run keeps what it measured
    results["machine_at_end"] = _machine()
    results["note"] = (
        "2 vCPU; whether other jobs shared them shows in the load averages recorded at the start, after each "
        "model and at the end. A time-budgeted run: the figures say what this budget buys on this machine, "
        "not what the models reach at convergence."
    )
    atomic.write_json(path, results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
