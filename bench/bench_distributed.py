"""Distributed training throughput (1 vs 2 replicas on 2 logical CPU devices) and the cost of resuming.

    python bench/bench_distributed.py [--steps 200] [--out bench/results/distributed.json]

Throughput: the README's default MLP VAE (784-512-256-z32, Bernoulli) on random binary 28x28
images, global batch 128, Adam, XLA off, measured over `--steps` steps after 20 warm-up steps, in a
fresh process per set-up: "1 replica" is the default strategy, "2 replicas" MirroredStrategy over two
logical CPU devices of the same 2 physical cores (so no speed-up is expected here: it shows the
overhead of the replication; on real GPUs each replica has its own device).

Resume: `keras-vae train` on a .npy dataset with --epochs 3; a run killed (SIGKILL) during epoch 2 is
re-run; reported are the seconds from launching the re-run to the end of its first training step,
against the same figure for a fresh start (the difference is the cost of restoring the backup).
"""

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

THROUGHPUT = r"""
import json, sys, time
import tensorflow as tf
replicas, steps = int(sys.argv[1]), int(sys.argv[2])
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]) if replicas == 2 else tf.distribute.get_strategy()
import keras, numpy as np
from keras_vae.models import build_vae
with strategy.scope():
    model = build_vae((28, 28, 1), latent_dim=32, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
x = (np.random.default_rng(0).uniform(size=(128 * 16, 28, 28, 1)) > 0.5).astype("float32")
data = tf.data.Dataset.from_tensor_slices(x).repeat().batch(128).prefetch(4)
class Clock(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start
clock = Clock()
model.fit(data, epochs=1, steps_per_epoch=20, verbose=0)
model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[clock])
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "steps": steps, "seconds": clock.seconds,
                  "steps_per_second": steps / clock.seconds, "examples_per_second": 128 * steps / clock.seconds}))
"""

FIRST_STEP = r"""
import json, sys, time
import keras_vae.training as training
marker = sys.argv[1]
class Timed(training.AtomicBackupAndRestore):
    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if not getattr(self, "_timed", False):
            self._timed = True
            with open(marker, "a") as f:
                f.write(json.dumps({"first_step_at": time.time(), "initial_epoch": self.model._initial_epoch}) + "\n")
training.AtomicBackupAndRestore = Timed
from keras_vae.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    return env


def throughput(replicas, steps):
    out = subprocess.run([sys.executable, "-c", THROUGHPUT, str(replicas), str(steps)], env=_env(),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _last(marker):
    with open(marker) as f:
        return json.loads(f.read().strip().splitlines()[-1])


def resume_cost(root):
    import numpy as np

    data = os.path.join(root, "x.npy")
    np.save(data, np.random.default_rng(0).integers(0, 256, (2000, 28, 28), np.uint8))
    marker = os.path.join(root, "marker.jsonl")

    def command(out):
        return [sys.executable, "-c", FIRST_STEP, marker, "train", "--data", data, "--epochs", "3",
                "--steps-per-epoch", "150", "--batch-size", "128", "--no-jit", "--out", out]

    results = {}
    # Fresh starts, for comparison (the faster of two: the first also warms the file cache).
    fresh = []
    for i in range(2):
        launched = time.time()
        subprocess.run(command(os.path.join(root, f"fresh{i}")), env=_env(), check=True, capture_output=True)
        fresh.append(_last(marker)["first_step_at"] - launched)
    results["fresh_start_to_first_step_seconds"] = min(fresh)

    out = os.path.join(root, "killed")
    process = subprocess.Popen(command(out), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    history = os.path.join(out, "history.csv")
    while True:
        if os.path.exists(history) and sum(1 for _ in open(history)) >= 2 and os.path.exists(
            os.path.join(out, "backup", "latest.weights.h5")
        ):
            break
        if process.poll() is not None:
            raise RuntimeError("run ended before it could be killed")
        time.sleep(0.01)
    time.sleep(0.3)  # into epoch 2
    process.send_signal(signal.SIGKILL)
    process.wait()
    launched = time.time()
    subprocess.run(command(out), env=_env(), check=True, capture_output=True)
    entry = _last(marker)
    results["resume_to_first_step_seconds"] = entry["first_step_at"] - launched
    results["resumed_at_epoch"] = entry["initial_epoch"]
    results["restore_overhead_seconds"] = (
        results["resume_to_first_step_seconds"] - results["fresh_start_to_first_step_seconds"]
    )
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "distributed.json"))
    args = parser.parse_args()
    import tensorflow as tf

    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "tensorflow": tf.__version__},
        "throughput": [throughput(r, args.steps) for r in (1, 2)],
    }
    with tempfile.TemporaryDirectory() as root:
        result["resume"] = resume_cost(root)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    sys.path.insert(0, ROOT)
    from keras_vae import atomic

    atomic.write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
