"""Benchmarks of keras_vae's likelihood evaluation and training on Fashion-MNIST (CPU).

Three parts, each writing bench/results/likelihood_<part>.json:

  quality  Trains an MLP VAE (784-300-300-z40, ReLU, Bernoulli likelihood, dynamic
           binarization, Adam) for --minutes of training wall-clock and evaluates the
           importance-sampled NLL (IS-K, nats per test image) at checkpoints, so the
           result is NLL against training time. Reference: 228.70 nats (IS-5000, plain
           VAE, MLP with 300 gated units, z=40; Norouzi et al. 2020).
  speed    Training throughput (examples/s) and peak RSS of keras_vae's VAE against a
           plain-Keras VAE of the same architecture and batch in the keras.io style
           (sigmoid decoder, binary cross-entropy, closed-form KL, custom train_step).
           Each variant runs in its own child process (so each has its own RSS
           high-water mark from getrusage) in alternation, repeated --repeats times.
  is       Wall time of IS-K (default K=1000) over the 10,000 test images, and the
           decoder's achieved GFLOP/s (2 * sum(in * out) FLOPs per decoded latent,
           counted analytically) against the machine's float32 matmul peak, measured in
           the same process with a large tf.matmul loop.

    python bench/bench_likelihood.py --part speed
    python bench/bench_likelihood.py --part is
    python bench/bench_likelihood.py --part quality --minutes 60
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
HIDDEN = (300, 300)
LATENT = 40
IMAGE = (28, 28, 1)


def _machine():
    import keras
    import tensorflow as tf

    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "load_average_1_5_15_min": list(os.getloadavg()),
    }


TAG = ""


def _write(name, data):
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"likelihood_{name}{TAG}.json")
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"wrote {path}")
    return path


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def decoder_flops_per_latent(latent=LATENT, hidden=HIDDEN, out=784):
    """2 * sum(in * out) over the decoder's dense layers (multiply-adds counted as 2 FLOPs)."""
    sizes = (latent, *hidden, out)
    return 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def _load(split, data_dir):
    from keras_vae.data import load_tfds_images

    kwargs = {"data_dir": data_dir} if data_dir else {}
    return load_tfds_images("fashion_mnist", split, **kwargs)[0]


def _keras_vae_model(seed=0, objective="elbo", num_samples=1):
    from keras_vae import VAE, MLPDecoder, MLPEncoder

    model = VAE(
        MLPEncoder(LATENT, hidden_units=HIDDEN, name="encoder"),
        MLPDecoder(IMAGE, hidden_units=HIDDEN[::-1], name="decoder"),
        likelihood="bernoulli",
        seed=seed,
        objective=objective,
        num_samples=num_samples,
    )
    model.build((None, *IMAGE))
    return model


def _baseline_model():
    """The keras.io VAE (fchollet's "Variational AutoEncoder" example) with this benchmark's MLP networks."""
    from bench_speed import kerasio_vae

    return kerasio_vae("mlp", mlp_hidden_units=HIDDEN, mlp_latent_dim=LATENT)


# Speed -------------------------------------------------------------------------------------


def speed_worker(args):
    """Child process: times `--steps` training steps of one variant; prints one JSON line."""
    import keras

    from keras_vae.data import make_dataset

    keras.utils.set_random_seed(0)
    images = _load("train", args.data_dir)
    model = _keras_vae_model() if args.variant == "keras_vae" else _baseline_model()
    if args.variant == "baseline_keras_io":
        # Exactly as the keras.io example runs: default compile (no XLA on a CPU-only machine)
        # and a NumPy array handed to fit (binarized once, so the work per step is the same).
        from keras_vae.data import binarize_static

        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        x = binarize_static(images, seed=0)

        def fit(steps):
            model.fit(x[: steps * args.batch_size], epochs=1, batch_size=args.batch_size, verbose=0)

    else:
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
        data = make_dataset(images, batch_size=args.batch_size, shuffle=True, binarize="dynamic", seed=0, repeat=True)

        def fit(steps):
            model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)

    warmup = 50
    start = time.perf_counter()
    fit(warmup)  # traces and compiles
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    fit(args.steps)
    seconds = time.perf_counter() - start
    result = {
        "variant": args.variant,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "seconds": seconds,
        "examples_per_second": args.steps * args.batch_size / seconds,
        "first_fit_seconds_incl_compile": compile_seconds,
        "peak_rss_mb": _peak_rss_mb(),
    }
    print("RESULT " + json.dumps(result))


def run_speed(args):
    import statistics

    variants = ("keras_vae", "baseline", "baseline_keras_io")
    runs = {variant: [] for variant in variants}
    for repeat in range(args.repeats):
        # Rotate the order, so that contention from anything else on the machine hits all variants.
        for variant in variants[repeat % 3:] + variants[: repeat % 3]:
            command = [sys.executable, os.path.abspath(__file__), "--part", "speed-worker", "--variant", variant,
                       "--steps", str(args.steps), "--batch-size", str(args.batch_size)]
            if args.data_dir:
                command += ["--data-dir", args.data_dir]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            line = [x for x in output.splitlines() if x.startswith("RESULT ")][-1]
            result = json.loads(line[len("RESULT "):])
            print(result)
            runs[variant].append(result)
    summary = {}
    for variant, results in runs.items():
        summary[variant] = {
            "examples_per_second_median": statistics.median(r["examples_per_second"] for r in results),
            "examples_per_second_max": max(r["examples_per_second"] for r in results),
            "examples_per_second_runs": [r["examples_per_second"] for r in results],
            "peak_rss_mb_median": statistics.median(r["peak_rss_mb"] for r in results),
            "peak_rss_mb_runs": [r["peak_rss_mb"] for r in results],
        }
    data = {
        "description": "training throughput and peak RSS: keras_vae VAE vs keras.io-style plain Keras VAE, "
                       "MLP 784-300-300-z40 (ReLU), batch %d, Adam, jit_compile=True, dynamic binarization, "
                       "%d timed steps after 50 warm-up steps, each run in its own process" % (args.batch_size, args.steps),
        "throughput_ratio_keras_vae_over_baseline": summary["keras_vae"]["examples_per_second_median"]
        / summary["baseline"]["examples_per_second_median"],
        "throughput_ratio_of_best_runs": summary["keras_vae"]["examples_per_second_max"]
        / summary["baseline"]["examples_per_second_max"],
        "throughput_ratio_keras_vae_over_keras_io_defaults": summary["keras_vae"]["examples_per_second_median"]
        / summary["baseline_keras_io"]["examples_per_second_median"],
        "variants": {
            "keras_vae": "keras_vae VAE, jit_compile=True, tf.data pipeline (cache, shuffle, dynamic binarization, prefetch)",
            "baseline": "keras.io-style VAE (BCE + closed-form KL in train_step), same pipeline and jit_compile=True",
            "baseline_keras_io": "the same keras.io-style VAE run as keras.io does: default compile (no XLA on CPU), "
                                 "fit on a NumPy array",
        },
        "note": "the machine is shared: see load_average; runs alternate between variants, so contention hits both",
        "peak_rss_ratio_keras_vae_over_baseline": summary["keras_vae"]["peak_rss_mb_median"]
        / summary["baseline"]["peak_rss_mb_median"],
        "results": summary,
        "machine": _machine(),
    }
    _write("speed", data)
    return data


# Importance sampling throughput -------------------------------------------------------------


def measure_matmul_peak(n=2048, seconds=5.0):
    """float32 GFLOP/s of a square n x n tf.matmul, looped inside one compiled function."""
    import tensorflow as tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    reps = 10

    @tf.function(jit_compile=True)
    def loop(a, b):
        def body(i, acc):
            return i + 1, acc + tf.matmul(a + tf.cast(i, tf.float32) * 1e-9, b)

        return tf.while_loop(lambda i, _: i < reps, body, (0, tf.zeros((n, n))))[1]

    loop(a, b).numpy()
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        loop(a, b).numpy()
        elapsed = time.perf_counter() - start
        best = max(best, 2.0 * n**3 * reps / elapsed / 1e9)
    return best


def run_is(args, model=None, images=None):

    from keras_vae.data import binarize_static
    from keras_vae.evaluation import evaluate_split

    if images is None:
        images = binarize_static(_load("test", args.data_dir), seed=1)[: args.eval_examples]
    if model is None:
        model = _keras_vae_model()  # timing does not depend on the weights
    flops_per_latent = decoder_flops_per_latent()
    peak = measure_matmul_peak()
    configs = []
    for batch_size, chunk_size, jit in args.is_configs:
        options = dict(num_samples=args.is_samples, batch_size=batch_size, chunk_size=chunk_size, jit_compile=jit)
        evaluate_split(model, images[:batch_size], **options)  # compile
        start = time.perf_counter()
        result = evaluate_split(model, images, **options)
        seconds = time.perf_counter() - start
        flops = flops_per_latent * args.is_samples * len(images)
        configs.append({
            "batch_size": batch_size,
            "chunk_size": chunk_size,
            "jit_compile": jit,
            "seconds": seconds,
            "decoder_gflop": flops / 1e9,
            "decoder_gflops_per_second": flops / seconds / 1e9,
            "fraction_of_matmul_peak": flops / seconds / 1e9 / peak,
            "nll": result["nll"],
        })
        print(configs[-1])
    best = min(configs, key=lambda c: c["seconds"])
    data = {
        "description": f"IS-{args.is_samples} over {len(images)} test images (evaluate_split: IS estimate, "
                       "ELBO terms and active units), MLP decoder 40-300-300-784",
        "num_samples": args.is_samples,
        "num_examples": int(len(images)),
        "decoder_flops_per_latent": flops_per_latent,
        "matmul_peak_gflops_per_second": peak,
        "matmul_peak_note": "best of repeated compiled loops of 10 float32 2048x2048 tf.matmul",
        "best": best,
        "configs": configs,
        "peak_rss_mb": _peak_rss_mb(),
        "machine": _machine(),
    }
    return data


# Quality -------------------------------------------------------------------------------------


def run_quality(args):
    import keras

    from keras_vae.data import binarize_static, make_dataset
    from keras_vae.evaluation import evaluate_split

    keras.utils.set_random_seed(0)
    train_images = _load("train", args.data_dir)
    test_images = binarize_static(_load("test", args.data_dir), seed=1)[: args.eval_examples]
    model = _keras_vae_model(objective=args.objective, num_samples=args.num_samples)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), jit_compile=True)
    train_data = make_dataset(train_images, batch_size=args.batch_size, shuffle=True, binarize="dynamic", seed=0)
    budget = args.minutes * 60.0
    checkpoints = sorted({min(budget, m * 60.0) for m in (0.5, 1, 2, 3, 5, 10, 15, 20, 30, 40, 50, 60, 90, 120)})
    checkpoints = [c for c in checkpoints if c <= budget]
    history = []
    train_seconds = 0.0
    epoch = 0
    data = {
        "description": "MLP VAE 784-300-300-z40 (ReLU), Bernoulli, dynamic binarization, Adam; test images "
                       "statically binarized once (seed 1); NLL in nats per image",
        "reference_nll": {"value": 228.70, "source": "Norouzi et al. 2020 (Exemplar VAE), plain VAE, IS-5000, "
                                                     "all 10,000 test images"},
        "minutes": args.minutes,
        "objective": args.objective,
        "num_samples": args.num_samples,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "eval_examples": int(len(test_images)),
        "history": history,
        "machine": _machine(),
    }

    def evaluate(samples):
        start = time.perf_counter()
        result = evaluate_split(model, test_images, num_samples=samples, batch_size=100)
        result.update({"train_seconds": train_seconds, "epochs": epoch, "eval_seconds": time.perf_counter() - start})
        history.append(result)
        print(f"{train_seconds / 60:6.1f} min, {epoch:4d} epochs: IS-{samples} NLL {result['nll']:.2f} "
              f"(ELBO {result['elbo']:.2f}, KL {result['kl']:.2f}, {result['active_units']} active units)",
              flush=True)
        _write("quality", data)  # after every checkpoint, so an interrupted run keeps its results

    while train_seconds < budget:
        start = time.perf_counter()
        model.fit(train_data, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
        train_seconds += time.perf_counter() - start
        epoch += 1
        if checkpoints and train_seconds >= checkpoints[0]:
            while checkpoints and train_seconds >= checkpoints[0]:
                checkpoints.pop(0)
            evaluate(args.eval_samples)
    for samples in args.final_samples:
        if samples != args.eval_samples:
            evaluate(samples)
    data["machine_at_end"] = _machine()
    _write("quality", data)
    if args.save_model:
        model.save(args.save_model)
    return data, model, test_images


def _int_list(text):
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["quality", "speed", "is", "all", "speed-worker"], default="all")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument("--minutes", type=float, default=60.0, help="quality: training budget")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--objective", default="elbo", choices=["elbo", "iwae"])
    parser.add_argument("--num-samples", type=int, default=1, help="training samples (IWAE: K)")
    parser.add_argument("--eval-samples", type=int, default=1000, help="quality: IS-K at checkpoints")
    parser.add_argument("--final-samples", type=_int_list, default=[5000],
                        help="quality: comma-separated IS-K evaluations at the end, e.g. 1000,5000 (empty: none)")
    parser.add_argument("--eval-examples", type=int, default=10000, help="test images evaluated")
    parser.add_argument("--is-samples", type=int, default=1000)
    parser.add_argument("--is-configs", default="100:250:1,100:250:0,250:100:1",
                        help="is: comma-separated batch_size:chunk_size:jit_compile(1/0) triples to time")
    parser.add_argument("--steps", type=int, default=400, help="speed: timed steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="speed: runs per variant")
    parser.add_argument("--tag", default="", help="suffix of the result files (likelihood_<part>_<tag>.json)")
    parser.add_argument("--variant", default="keras_vae", help=argparse.SUPPRESS)
    parser.add_argument("--save-model", default=None, help="quality: save the trained model here")
    args = parser.parse_args(argv)
    global TAG
    TAG = f"_{args.tag}" if args.tag else ""
    args.is_configs = [
        (int(b), int(c), bool(int(j))) for b, c, j in (item.split(":") for item in args.is_configs.split(","))
    ]
    if args.part == "speed-worker":
        return speed_worker(args)
    if args.part in ("speed", "all"):
        run_speed(args)
    model = images = None
    if args.part in ("quality", "all"):
        _, model, images = run_quality(args)
    if args.part in ("is", "all"):
        data = run_is(args, model, images)
        data["weights"] = "trained (quality run)" if model is not None else "freshly initialised"
        _write("is", data)


if __name__ == "__main__":
    main()
