"""Training steps/s of the flows with each coupling network run once per step against twice.

`AffineCoupling.forward` returns y and its log-determinant from one pass of the coupling network.
Before, training went through the layer's `tfb.Bijector` (`FlowLayer.forward`: `bijector.forward(x)` then
`bijector.forward_log_det_jacobian(x)`), which runs the network once for y and again for the
log-determinant; whether XLA merges the two passes decides what that costs. This script measures both
paths in one process, paired and in alternating order per round, on the models of bench_flows.py (XLA,
Adam 1e-3, batch 64, 8-bit random images; speed does not depend on the pixel values), after a
warm-up fit that compiles the step. Writes bench/results/flow_step.json.

    python bench/bench_flow_step.py
    python bench/bench_flow_step.py --rounds 3 --steps 100 --hidden-channels 32 64
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_flows import MODELS  # noqa: E402  (the benchmark's flows)
from bench_likelihood import _machine  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["realnvp", "glow"], choices=["realnvp", "glow"])
    parser.add_argument("--hidden-channels", nargs="+", type=int, default=[32, 64])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=200, help="timed training steps per measurement")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    from keras_vae import atomic
    from keras_vae.flows.layers import AffineCoupling, FlowLayer
    from keras_vae.models.builder import build_model

    one_pass = AffineCoupling.forward
    paths = {"network once (AffineCoupling.forward)": one_pass,
             "network twice (the bijector's forward and log-det)": FlowLayer.forward}
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(args.steps * args.batch_size, 28, 28, 1)).astype("float32") / 255.0

    def steps_per_second(name, options, forward):
        AffineCoupling.forward = forward
        try:
            keras.utils.set_random_seed(0)
            model = build_model(name, (28, 28, 1), seed=0, **options)
            model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
            model.fit(images[: 2 * args.batch_size], batch_size=args.batch_size, epochs=1, verbose=0)  # compiles
            start = time.perf_counter()
            model.fit(images, batch_size=args.batch_size, epochs=1, verbose=0)
            return args.steps / (time.perf_counter() - start)
        finally:
            AffineCoupling.forward = one_pass

    results = {"machine_at_start": _machine(), "steps_per_measurement": args.steps,
               "batch_size": args.batch_size, "rows": []}
    for name in args.models:
        for width in args.hidden_channels:
            options = dict(MODELS[name], hidden_channels=width)
            rounds = []
            for index in range(args.rounds):
                order = list(paths) if index % 2 == 0 else list(reversed(paths))
                rounds.append({path: steps_per_second(name, options, paths[path]) for path in order})
                print(name, width, rounds[-1], file=sys.stderr, flush=True)
            once, twice = list(paths)
            ratios = [r[once] / r[twice] for r in rounds]
            results["rows"].append({
                "model": name, "options": options, "rounds": rounds,
                "median_steps_per_second": {path: statistics.median(r[path] for r in rounds) for path in paths},
                "speedup_per_round": ratios, "median_speedup": statistics.median(ratios),
            })
            atomic.write_json(os.path.join(RESULTS, "flow_step.json"), results)
    results["machine_at_end"] = _machine()
    atomic.write_json(os.path.join(RESULTS, "flow_step.json"), results)
    for row in results["rows"]:
        print(f"{row['model']:8s} {row['options']['hidden_channels']:3d} channels: "
              + ", ".join(f"{v:.1f} steps/s {k}" for k, v in row["median_steps_per_second"].items())
              + f"; once/twice x{row['median_speedup']:.2f}")


if __name__ == "__main__":
    main()
