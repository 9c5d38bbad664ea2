"""Training speed of keras-vae against the keras.io "Variational AutoEncoder" example, and IS evaluation.

Variants (each timed in its own child process, the variants alternating, --rounds rounds):

  kerasio_conv      the keras.io example itself (fchollet, "Variational AutoEncoder"): conv 32/64
                    stride 2, Dense 16, latent 2, Dense 7*7*64, Conv2DTranspose 64/32 stride 2,
                    Conv2DTranspose(1) sigmoid, BCE + closed-form KL in a custom train_step,
                    `compile(optimizer=Adam())` (default compile), `fit(array, batch_size=128)`.
                    Only the data changed: Fashion-MNIST's 60,000 training images (grey, as keras.io
                    feeds MNIST) read from Debian's IDX files instead of keras.datasets.mnist.
  keras_vae_conv_same  keras-vae's VAE with the same network (ConvEncoder(32, 64; Dense 16), the
                    example's decoder emitting logits), compiled and fed as `keras-vae train` does.
  keras_vae_conv_cli   the network `keras-vae train --architecture conv --latent-dim 2` builds
                    (Dense 256 in both networks), compiled and fed as `keras-vae train` does.
  kerasio_mlp       the keras.io example's model and loop with the CLI's default MLP networks
                    (784-512-256-z32 / 32-256-512-784), run as keras.io runs it.
  keras_vae_mlp_cli the network `keras-vae train` builds by default, compiled and fed as it does.
  keras_vae_*_bf16  a keras-vae variant under Keras' "mixed_bfloat16" policy (bfloat16 arithmetic,
                    float32 weights): not a default, measured to say what lower precision would buy
                    on a CPU with bfloat16 units (AVX512_BF16 / AMX, as this machine has).

`--part paired` runs a keras.io variant and a keras-vae variant in ONE process, alternating short
`fit` calls (--steps each, --rounds pairs), and reports the median of the pair-by-pair ratios: on
these 2-core VMs a whole process sometimes runs at half speed (every variant's steps in
`--part train` fall into two groups about 2x apart, e.g. 64 and 128 ms), so ratios of separate
processes mix the two states, while the two halves of a pair share one.

`--part ops` records a TensorFlow profile of 20 training steps of the two conv models and of the
two MLP models and prints the time per op type (needs `pip install xprof`, a profiling tool that
is not a dependency of keras-vae).

The IS part times `evaluation.importance_sampled_log_likelihood` (MLP 40-300-300-784 decoder,
as bench_likelihood.py --part is) against a float32 matmul peak measured in the same run, with the
Bernoulli log-density compiled with XLA (the default), by TensorFlow's kernels and by tfp;
`--part is_pieces` times one chunk's last matrix product and its log-density computed four ways.

    python bench/bench_speed.py --rounds 3
"""

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_likelihood import _machine as machine  # noqa: E402  (the one machine description)

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
DEBIAN = "/usr/share/datasets/fashion-mnist"
PAIRS = {  # keras-vae variant -> the keras.io variant it is compared with
    "keras_vae_conv_same": "kerasio_conv",
    "keras_vae_conv_cli": "kerasio_conv",
    "keras_vae_mlp_cli": "kerasio_mlp",
}
PAIRS.update({f"{ours}_bf16": theirs for ours, theirs in PAIRS.items()})
VARIANTS = ("kerasio_conv", "keras_vae_conv_same", "keras_vae_conv_cli", "kerasio_mlp", "keras_vae_mlp_cli",
            "keras_vae_conv_same_bf16", "keras_vae_conv_cli_bf16", "keras_vae_mlp_cli_bf16")


def load_fashion_mnist(split="train"):
    """Fashion-MNIST images as float32 (N, 28, 28, 1) in [0, 1], from Debian's IDX files."""
    import numpy as np

    name = "train" if split == "train" else "t10k"
    with gzip.open(os.path.join(DEBIAN, f"{name}-images-idx3-ubyte.gz")) as f:
        data = np.frombuffer(f.read(), np.uint8, offset=16)
    return (data.reshape(-1, 28, 28, 1).astype("float32") / 255).copy()


# The keras.io example, written as it is published (only the data source differs) -------------


def kerasio_vae(kind="conv", mlp_hidden_units=(512, 256), mlp_latent_dim=32):
    """The keras.io example's model, compiled as published: its conv network, or the same VAE with MLP networks.

    Args:
        kind: str, "conv" (the example's network, latent 2) or "mlp".
        mlp_hidden_units: tuple of int, default (512, 256) (the CLI's default MLP). The encoder's
            widths; the decoder mirrors them.
        mlp_latent_dim: int, default 32.
    """
    import keras
    import tensorflow as tf
    from keras import layers, ops

    class Sampling(layers.Layer):
        """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            batch = ops.shape(z_mean)[0]
            dim = ops.shape(z_mean)[1]
            epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    if kind == "conv":
        latent_dim = 2
        encoder_inputs = keras.Input(shape=(28, 28, 1))
        x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
        x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
        x = layers.Flatten()(x)
        x = layers.Dense(16, activation="relu")(x)
    else:
        latent_dim = mlp_latent_dim
        encoder_inputs = keras.Input(shape=(28, 28, 1))
        x = layers.Flatten()(encoder_inputs)
        for units in mlp_hidden_units:
            x = layers.Dense(units, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")

    latent_inputs = keras.Input(shape=(latent_dim,))
    if kind == "conv":
        x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
        x = layers.Reshape((7, 7, 64))(x)
        x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
        x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
        decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    else:
        x = latent_inputs
        for units in mlp_hidden_units[::-1]:
            x = layers.Dense(units, activation="relu")(x)
        decoder_outputs = layers.Reshape((28, 28, 1))(layers.Dense(784, activation="sigmoid")(x))
    decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")

    class VAE(keras.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
            self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
            self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

        @property
        def metrics(self):
            return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

        def train_step(self, data):
            with tf.GradientTape() as tape:
                z_mean, z_log_var, z = self.encoder(data)
                reconstruction = self.decoder(z)
                reconstruction_loss = ops.mean(
                    ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2))
                )
                kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
                kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
                total_loss = reconstruction_loss + kl_loss
            grads = tape.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(total_loss)
            self.reconstruction_loss_tracker.update_state(reconstruction_loss)
            self.kl_loss_tracker.update_state(kl_loss)
            return {
                "loss": self.total_loss_tracker.result(),
                "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                "kl_loss": self.kl_loss_tracker.result(),
            }

    vae = VAE(encoder, decoder)
    vae.compile(optimizer=keras.optimizers.Adam())
    return vae


def kerasio_decoder_logits(latent_dim=2):
    """The keras.io example's conv decoder with logits out (keras-vae's Bernoulli takes logits)."""
    import keras
    from keras import layers

    latent_inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    outputs = layers.Conv2DTranspose(1, 3, padding="same")(x)
    return keras.Model(latent_inputs, outputs, name="decoder")


def keras_vae_model(variant, settings):
    """The model `keras-vae train` builds and compiles for these settings (the 'same' variant: keras.io's network)."""
    from keras_vae import training

    if variant.startswith("keras_vae_conv_same"):
        from keras_vae import VAE, ConvEncoder

        model = VAE(ConvEncoder(2, filters=(32, 64), hidden_units=16, name="encoder"), kerasio_decoder_logits(2),
                    likelihood="bernoulli", seed=settings.seed)
        model.build((None, 28, 28, 1))
        training.compile_model(model, settings, **compile_overrides())
        return model
    model = training._build(settings, (28, 28, 1), None)
    if compile_overrides():
        training.compile_model(model, settings, **compile_overrides())
    return model


def compile_overrides():
    return json.loads(os.environ.get("BENCH_SPEED_COMPILE", "{}"))  # profiling other compile options


def cli_settings(variant):
    from keras_vae.settings import TrainSettings

    overrides = json.loads(os.environ.get("BENCH_SPEED_SETTINGS", "{}"))  # profiling other compile options
    if "conv" in variant:
        return TrainSettings(architecture="conv", latent_dim=2, batch_size=128, **overrides)
    return TrainSettings(**overrides)


def make_fit(variant, images, batch, longest_fit):
    """Builds one variant's model and returns `(model, fit(steps))`, fed as that variant is fed.

    `longest_fit` is the most steps one `fit` call will take (each call starts a new iterator).
    A `_bf16` variant is built under Keras' "mixed_bfloat16" policy, the others under float32.
    """
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if variant.endswith("_bf16") else "float32")
    try:
        return _make_fit(variant.removesuffix("_bf16"), images, batch, longest_fit)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _make_fit(variant, images, batch, longest_fit):
    if variant.startswith("kerasio"):
        model = kerasio_vae("conv" if "conv" in variant else "mlp")

        def fit(steps):
            model.fit(images[: steps * batch], epochs=1, batch_size=batch, verbose=0)

    else:
        from keras_vae.data import make_epoch_dataset

        settings = cli_settings(variant)
        model = keras_vae_model(variant, settings)
        # The pipeline `keras-vae train` feeds (every epoch a function of (seed, epoch), dynamic
        # binarization), built once as `train` builds it once per run; each fit starts a new iterator.
        data, _ = make_epoch_dataset(images, batch_size=batch, binarize=settings.binarize, seed=0, epochs=1,
                                     steps_per_epoch=longest_fit)

        def fit(steps):
            model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)

    return model, fit


def run_paired(args):
    """Each keras-vae variant against its keras.io variant in one process, alternating short fits."""
    import keras

    keras.utils.set_random_seed(0)
    images = load_fashion_mnist("train")
    out = {"steps_per_fit": {}, "pairs": {}}
    for ours in [v for v in args.variants.split(",") if v in PAIRS]:
        theirs = PAIRS[ours]
        steps = args.steps or (30 if "conv" in ours else 150)
        fits = {name: make_fit(name, images, args.batch_size, max(args.warmup, steps))[1] for name in (theirs, ours)}
        for fit in fits.values():
            fit(args.warmup)
        times = {theirs: [], ours: []}
        for round_index in range(args.rounds):
            order = (theirs, ours) if round_index % 2 == 0 else (ours, theirs)
            for name in order:
                start = time.perf_counter()
                fits[name](steps)
                times[name].append(1000 * (time.perf_counter() - start) / steps)
        ratios = [a / b for a, b in zip(times[theirs], times[ours])]  # speed of ours / speed of theirs
        out["pairs"][f"{ours} / {theirs}"] = {
            "ratio_median": statistics.median(ratios),
            "ratio_quartiles": statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios,
            "ratios": ratios,
            "ms_per_step": {name: {"median": statistics.median(t), "runs": t} for name, t in times.items()},
            "load_average_1_5_15_min": list(os.getloadavg()),
        }
        out["steps_per_fit"][ours] = steps
        print(ours, "/", theirs, round(statistics.median(ratios), 3),
              {n: round(statistics.median(t), 1) for n, t in times.items()}, flush=True)
    out["rounds"] = args.rounds
    out["batch_size"] = args.batch_size
    return out


def worker(args):
    """Child process: times `--steps` training steps of one variant after warm-up; prints one JSON line."""
    import keras

    keras.utils.set_random_seed(0)
    images = load_fashion_mnist("train")
    batch = args.batch_size
    model, fit = make_fit(args.variant, images, batch, max(args.warmup, args.steps))

    start = time.perf_counter()
    fit(args.warmup)
    first = time.perf_counter() - start
    profile = None
    if args.profile:
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
    if args.trace:
        import tempfile

        import tensorflow as tf

        trace_dir = tempfile.mkdtemp(prefix="bench_speed_trace_")
        tf.profiler.experimental.start(trace_dir)
    start = time.perf_counter()
    fit(args.steps)
    seconds = time.perf_counter() - start
    if args.trace:
        import shutil

        tf.profiler.experimental.stop()
        op_stats = op_profile(trace_dir, args.steps)
        shutil.rmtree(trace_dir, ignore_errors=True)
    if args.profile:
        profiler.disable()
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(12)
        profile = stream.getvalue()
    result = {
        "variant": args.variant,
        "steps": args.steps,
        "batch_size": batch,
        "seconds": seconds,
        "ms_per_step": 1000 * seconds / args.steps,
        "images_per_second": args.steps * batch / seconds,
        "first_fit_seconds_incl_compile": first,
        "jit_compile": getattr(model, "jit_compile", None),
        "steps_per_execution": getattr(model, "steps_per_execution", None),
        "load_average_1_5_15_min": list(os.getloadavg()),
    }
    if profile:
        result["cprofile_top"] = profile
    if args.trace:
        result["op_profile"] = op_stats
    print("RESULT " + json.dumps(result), flush=True)


def write(name, data):
    os.makedirs(RESULTS, exist_ok=True)
    data = dict(data, machine=machine())
    path = os.path.join(RESULTS, f"{name}.json")
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"wrote {path}")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["train", "worker", "paired", "is", "is_pieces", "profile", "ops", "all"], default="all")
    parser.add_argument("--kinds", default="conv,mlp", help="profile: conv, mlp or both")
    parser.add_argument("--variant", choices=VARIANTS)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=0, help="timed steps per run (0: 40 conv, 200 mlp)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--trace", action="store_true", help="worker: record a TensorFlow profile (--part ops)")
    parser.add_argument("--tag", default="", help="suffix of the result file (speed<tag>.json)")
    parser.add_argument("--is-samples", type=int, default=1000)
    parser.add_argument("--is-examples", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.part == "profile":
        out = {}
        for kind in args.kinds.split(","):
            for jit in (False, True):
                out[f"{kind}, jit_compile={jit}"] = profile_pieces(kind, jit)
                print(json.dumps(out[f"{kind}, jit_compile={jit}"], indent=1), flush=True)
        out["load_average_1_5_15_min"] = list(os.getloadavg())
        write(f"speed_profile{args.tag}", out)
        return
    if args.part == "paired":
        write(f"speed_paired{args.tag}", run_paired(args))
        return
    if args.part == "is_pieces":
        write(f"speed_is_pieces{args.tag}", is_log_density_pieces(rounds=args.rounds))
        return
    if args.part == "ops":
        write(f"speed_ops{args.tag}", run_ops(args))
        return
    if args.part == "worker":
        if not args.steps:
            args.steps = 40 if "conv" in args.variant else 200
        return worker(args)
    data = {"load_average_at_start": list(os.getloadavg())}
    if args.part in ("train", "all"):
        data["train"] = run_train(args)
    if args.part in ("is", "all"):
        data["is"] = run_is(args)
    data["load_average_at_end"] = list(os.getloadavg())
    write(f"speed{args.tag}", data)


# Training throughput: variants alternating, each run in its own process ----------------------


def run_train(args):
    """Runs every variant in its own process, `rounds` times, rotating the order; returns the summary."""
    variants = [v for v in args.variants.split(",") if v]
    runs = {variant: [] for variant in variants}
    for round_index in range(args.rounds):
        # Rotate the order, so that contention from other jobs on the machine hits every variant.
        shift = round_index % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            command = [sys.executable, os.path.abspath(__file__), "--part", "worker", "--variant", variant,
                       "--warmup", str(args.warmup), "--batch-size", str(args.batch_size)]
            if args.steps:
                command += ["--steps", str(args.steps)]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            line = [x for x in output.splitlines() if x.startswith("RESULT ")][-1]
            result = json.loads(line[len("RESULT "):])
            print({k: result[k] for k in ("variant", "ms_per_step", "images_per_second", "load_average_1_5_15_min")},
                  flush=True)
            runs[variant].append(result)
    summary = {}
    for variant, results in runs.items():
        rates = [r["images_per_second"] for r in results]
        summary[variant] = {
            "images_per_second_median": statistics.median(rates),
            "images_per_second_min": min(rates),
            "images_per_second_max": max(rates),
            "images_per_second_runs": rates,
            "ms_per_step_median": statistics.median(r["ms_per_step"] for r in results),
            "jit_compile": results[0]["jit_compile"],
            "steps_per_execution": results[0]["steps_per_execution"],
            "load_average_per_run": [r["load_average_1_5_15_min"] for r in results],
            "steps_per_run": results[0]["steps"],
        }
    ratios = {}
    for ours, theirs in PAIRS.items():
        if ours in runs and theirs in runs:
            ratios[f"{ours} / {theirs}"] = {
                "median_over_median": summary[ours]["images_per_second_median"]
                / summary[theirs]["images_per_second_median"],
                # Round by round (the two ran minutes apart under about the same load).
                "per_round": [a["images_per_second"] / b["images_per_second"] for a, b in zip(runs[ours], runs[theirs])],
            }
    return {"variants": summary, "ratios": ratios, "rounds": args.rounds, "batch_size": args.batch_size,
            "warmup_steps": args.warmup}


# Profile: where a step's time goes, timed piece by piece in one process ----------------------


def _median_ms(fn, reps):
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def profile_pieces(kind, jit_compile, reps=15, rounds=3):
    """Median ms per call of a step's pieces (graph or XLA), alternating the pieces in `rounds` rounds.

    kind "conv": the keras.io example against keras-vae with the same network; "mlp": the
    keras.io-style model against keras-vae's default MLP. The pieces: the whole train step
    (fit's compiled train function: step, optimizer, metric trackers), the networks' forward pass,
    forward + backward with the keras.io loss (BCE of sigmoid outputs + closed-form KL), forward
    + backward with keras-vae's loss (`loss_terms`), the Bernoulli log-density alone (tfp's and the
    fused one, with gradients), and the input pipeline alone (a batch from `make_epoch_dataset`).
    """
    import keras
    import tensorflow as tf

    from keras_vae.data import make_epoch_dataset

    keras.utils.set_random_seed(0)
    images = load_fashion_mnist("train")[:4096]
    x = tf.constant((images[:128] > 0.5).astype("float32"))
    baseline = kerasio_vae(kind)
    variant = "keras_vae_conv_same" if kind == "conv" else "keras_vae_mlp_cli"
    settings = cli_settings(variant)
    settings.jit_compile = jit_compile
    ours = keras_vae_model(variant, settings)
    baseline.make_train_function()
    ours.make_train_function()

    def step(model):
        # What fit runs per step: the compiled train function on the next batch, then a sync.
        return lambda: [v.numpy() for v in model.train_function(iter([x])).values()]

    def baseline_loss(x):
        z_mean, z_log_var, z = baseline.encoder(x)
        reconstruction = baseline.decoder(z)
        rec = keras.ops.mean(keras.ops.sum(keras.losses.binary_crossentropy(x, reconstruction), axis=(1, 2)))
        kl = -0.5 * (1 + z_log_var - keras.ops.square(z_mean) - keras.ops.exp(z_log_var))
        return rec + keras.ops.mean(keras.ops.sum(kl, axis=1))

    def grads_of(loss_fn, variables):
        def step(x):
            with tf.GradientTape() as tape:
                loss = loss_fn(x)
            return tape.gradient(loss, variables)
        return tf.function(step, jit_compile=jit_compile)

    logits = tf.random.normal((1, 128, 28, 28, 1))

    def tfp_log_prob(logits):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            value = tf.reduce_sum(ours.likelihood.distribution(logits, 3).log_prob(x))
        return tape.gradient(value, logits)

    def fused_log_prob(logits):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            value = tf.reduce_sum(ours.likelihood.log_prob(logits, x, 3))
        return tape.gradient(value, logits)

    pieces = {
        "kerasio: train step": step(baseline),
        "keras_vae: train step": step(ours),
        "kerasio: forward": (lambda f: lambda: f(x))(tf.function(lambda x: baseline.decoder(baseline.encoder(x)[2]),
                                                                 jit_compile=jit_compile)),
        "keras_vae: forward": (lambda f: lambda: f(x))(tf.function(lambda x: ours(x), jit_compile=jit_compile)),
        "kerasio: forward+backward, keras.io loss": (lambda f: lambda: f(x))(
            grads_of(baseline_loss, baseline.trainable_variables)),
        "keras_vae: forward+backward, loss_terms": (lambda f: lambda: f(x))(
            grads_of(lambda x: ours.loss_terms(x, None, training=True)[0], ours.trainable_variables)),
        "tfp Bernoulli log_prob + gradient (128 x 784)": (lambda f: lambda: f(logits))(
            tf.function(tfp_log_prob, jit_compile=jit_compile)),
        "fused log-density + gradient (128 x 784)": (lambda f: lambda: f(logits))(
            tf.function(fused_log_prob, jit_compile=jit_compile)),
    }
    data, _ = make_epoch_dataset(images, batch_size=128, binarize="dynamic", seed=0, epochs=1000)
    iterator = iter(data)
    pieces["keras_vae pipeline: next batch"] = lambda: next(iterator)
    for fn in pieces.values():
        fn()
    runs = {name: [] for name in pieces}
    for _ in range(rounds):
        for name, fn in pieces.items():
            runs[name].append(_median_ms(fn, reps))
    return {name: {"median_ms": statistics.median(v), "rounds_ms": v} for name, v in runs.items()}


def is_log_density_pieces(reps=5, rounds=5):
    """Median ms of the pieces of one importance-sampling chunk (250 draws x 100 images x 784 pixels).

    The decoder's last matrix product (25,000 x 300 by 300 x 784, with its bias), TensorFlow's
    softplus kernel summed, and the Bernoulli log-density x l - softplus(l) summed over each image
    four ways: TensorFlow kernels over the image axes (28, 28, 1), XLA over the image axes, XLA
    over one flat axis of 784 (what `Bernoulli.log_prob` does inside `log_densities_with_xla`), and
    TensorFlow kernels over the flat axis. Each log-density piece includes the matrix product that
    makes its logits, so every figure is a chunk's last layer plus its log-density.
    """
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    chunk, batch, hidden = 250, 100, 300
    h = tf.constant(rng.normal(size=(chunk * batch, hidden)).astype("float32"))
    kernel = tf.constant((rng.normal(size=(hidden, 784)) * 0.05).astype("float32"))
    bias = tf.zeros((784,))
    x = tf.constant((rng.uniform(size=(batch, 28, 28, 1)) > 0.5).astype("float32"))

    def density(logits, x, axes):
        return tf.reduce_sum(x * logits - tf.nn.softplus(logits), axis=axes)

    image_axes, flat_axis = (-3, -2, -1), -1
    xla_density = tf.function(density, jit_compile=True, autograph=False)

    def chunk_with(piece):
        def run():
            logits = tf.matmul(h, kernel) + bias
            return piece(logits)
        return tf.function(run)

    pieces = {
        "matrix product 25,000 x 300 x 784 (+ bias)": chunk_with(lambda l: l[:1, :1]),
        "+ softplus summed (TF kernel)": chunk_with(lambda l: tf.reduce_sum(tf.nn.softplus(l), -1)),
        "+ log-density, TF kernels, image axes": chunk_with(
            lambda l: density(tf.reshape(l, (chunk, batch, 28, 28, 1)), x, image_axes)),
        "+ log-density, TF kernels, flat axis": chunk_with(
            lambda l: density(tf.reshape(l, (chunk, batch, 784)), tf.reshape(x, (batch, 784)), flat_axis)),
        "+ log-density, XLA, image axes": chunk_with(
            lambda l: xla_density(tf.reshape(l, (chunk, batch, 28, 28, 1)), x, image_axes)),
        "+ log-density, XLA, flat axis": chunk_with(
            lambda l: xla_density(tf.reshape(l, (chunk, batch, 784)), tf.reshape(x, (batch, 784)), flat_axis)),
    }
    for fn in pieces.values():
        fn()
    runs = {name: [] for name in pieces}
    for _ in range(rounds):
        for name, fn in pieces.items():
            runs[name].append(_median_ms(lambda: np.asarray(fn()), reps))
    for name, values in runs.items():
        print(f"{statistics.median(values):8.1f} ms  {name}", flush=True)
    return {"pieces": {name: {"median_ms": statistics.median(v), "rounds_ms": v} for name, v in runs.items()},
            "rounds": rounds, "calls_per_round": reps, "load_average_1_5_15_min": list(os.getloadavg())}


# Per-op profile: which TensorFlow ops a training step spends its time in ---------------------


def run_ops(args):
    """Profiles 20 steps of each variant in its own process; returns each variant's time per op type."""
    import importlib.util

    if importlib.util.find_spec("xprof") is None:  # say so before any model trains
        raise SystemExit("--part ops needs xprof, a profiling tool that keras-vae does not install: pip install xprof")
    out = {}
    for variant in [v for v in args.variants.split(",") if v and not v.endswith("_bf16")]:
        command = [sys.executable, os.path.abspath(__file__), "--part", "worker", "--variant", variant,
                   "--warmup", str(args.warmup), "--steps", "20", "--trace"]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        result = json.loads([x for x in output.splitlines() if x.startswith("RESULT ")][-1][len("RESULT "):])
        out[variant] = {"ms_per_step_while_profiled": result["ms_per_step"], "ops": result["op_profile"]}
        print(variant, json.dumps(result["op_profile"][:8]), flush=True)
    return out


def op_profile(trace_dir, steps, top=15):
    """Self time per step (ms, summed over threads) of the busiest op types in an xprof trace."""
    import glob

    from xprof.convert import raw_to_tool_data  # checked by run_ops
    files = glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True)
    table, _ = raw_to_tool_data.xspace_to_tool_data(files, "framework_op_stats", {})
    table = json.loads(table)
    table = table[0] if isinstance(table, list) else table
    columns = [c["label"] for c in table["cols"]]
    kind, name, self_us = (columns.index(c) for c in ("Operation Type", "Operation Name", "Total self-time (us)"))
    totals = {}
    for row in table["rows"]:
        values = [c.get("v") for c in row["c"]]
        if values[kind] == "IDLE":
            continue
        # Group by op type and by the layer the op belongs to (the name's path without the op).
        layer = "/".join(part for part in values[name].split("/")[1:3] if part != "gradient_tape")
        key = f"{values[kind]} [{layer}]"
        totals[key] = totals.get(key, 0.0) + values[self_us] / 1000 / steps
    busiest = sorted(totals.items(), key=lambda item: -item[1])[:top]
    return [{"op": key, "ms_per_step": round(ms, 2)} for key, ms in busiest]


# Importance-sampled evaluation against the matmul peak -----------------------------------------


def run_is(args):
    """IS-K of the MLP decoder 40-300-300-784 with three log-densities, alternating.

    "fused, XLA" is the default (`Bernoulli.log_prob` compiled with XLA inside the TensorFlow
    graph, `likelihoods.log_densities_with_xla`); "fused, TF kernels" the same form run by
    TensorFlow's CPU kernels (the default before); "tfp" tfp's Bernoulli log_prob by TF kernels.
    The decoder's FLOPs (2 * sum(in * out) per decoded latent) over the wall time of
    `importance_sampled_log_likelihood`, against the float32 matmul peak measured before and
    after in the same process (the higher of the two).
    """
    import numpy as np

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_likelihood

    from keras_vae import likelihoods
    from keras_vae.data import binarize_static
    from keras_vae.evaluation import importance_sampled_log_likelihood
    from keras_vae.likelihoods import Bernoulli, Likelihood

    images = binarize_static(load_fashion_mnist("test")[: args.is_examples], seed=1)
    model = bench_likelihood._keras_vae_model()  # timing does not depend on the weights
    flops_per_latent = bench_likelihood.decoder_flops_per_latent()
    fused, default_function = Bernoulli.log_prob, likelihoods.log_prob_function
    densities = {"fused": fused, "tfp": Likelihood.log_prob}
    configs = [("fused", "XLA"), ("fused", "TF kernels"), ("tfp", "TF kernels")]
    batch, chunk = 100, 250
    peaks = [bench_likelihood.measure_matmul_peak(seconds=4.0)]
    runs = {f"{d}, {k}": [] for d, k in configs}
    estimates = {}
    for _ in range(args.rounds):
        for density, kernels in configs:
            Bernoulli.log_prob = densities[density]
            if kernels == "TF kernels":
                likelihoods.log_prob_function = lambda likelihood: likelihood.log_prob
            try:
                start = time.perf_counter()
                log_px = importance_sampled_log_likelihood(model, images, num_samples=args.is_samples,
                                                           batch_size=batch, chunk_size=chunk)
                seconds = time.perf_counter() - start
            finally:
                Bernoulli.log_prob, likelihoods.log_prob_function = fused, default_function
            name = f"{density}, {kernels}"
            runs[name].append({"seconds": seconds, "load_average_1_5_15_min": list(os.getloadavg())})
            estimates[name] = float(np.mean(log_px))
            print(name, round(seconds, 2), flush=True)
    peaks.append(bench_likelihood.measure_matmul_peak(seconds=4.0))
    peak = max(peaks)
    flops = flops_per_latent * args.is_samples * len(images)
    summary = {}
    for name, results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        summary[name] = {
            "seconds_median": seconds,
            "seconds_runs": [r["seconds"] for r in results],
            "decoder_gflops_per_second_median": flops / seconds / 1e9,
            "fraction_of_matmul_peak_median": flops / seconds / 1e9 / peak,
            "fraction_of_matmul_peak_runs": [flops / r["seconds"] / 1e9 / peak for r in results],
            "mean_log_px": estimates[name],
            "load_average_per_run": [r["load_average_1_5_15_min"] for r in results],
        }
    return {
        "description": f"importance_sampled_log_likelihood, IS-{args.is_samples} over the first {len(images)} "
                       "Fashion-MNIST test images (binarized once, seed 1), MLP VAE 784-300-300-z40, graph mode, "
                       f"batch {batch}, chunk {chunk}",
        "num_samples": args.is_samples,
        "num_examples": int(len(images)),
        "decoder_flops_per_latent": flops_per_latent,
        "matmul_peak_gflops_per_second": peak,
        "matmul_peak_runs": peaks,
        "matmul_peak_note": "best of compiled loops of 10 float32 2048x2048 tf.matmul, measured before and after",
        "configs": summary,
    }


if __name__ == "__main__":
    main()
