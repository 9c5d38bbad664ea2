"""tf.distribute: MirroredStrategy on 2 logical CPU devices and MultiWorkerMirroredStrategy with 2
worker processes on 127.0.0.1 train like one device with the same global batch.

Each set-up runs in its own process (logical devices and TF_CONFIG must be set before TensorFlow
initialises), via tests/distributed_check.py: a tiny MLP VAE, the same initial weights, global batch
16, 6 SGD steps (SGD, not Adam: Adam is nearly invariant to a constant gradient factor, so it would
hide a wrong loss scaling). With the Sampling layer replaced by its mean (`--noise zero`), the loss
is a deterministic function of the weights and the global batch, so this verifies the per-replica
loss scaling: measured max |weight difference| 3e-8 (float32 summation order); asserted atol 1e-6.

With real sampling noise the runs are not comparable draw for draw: replica r draws with the
layer's seed offset by r (replica 0 draws exactly what one device draws for its share), so the
replicas' noise is independent; `test_replicas_draw_independent_noise` checks that.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import free_ports

SCRIPT = os.path.join(os.path.dirname(__file__), "distributed_check.py")


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", **extra)
    if "TF_CONFIG" not in extra:
        env.pop("TF_CONFIG", None)
    return env


def _start(mode, init, out, env=None):
    return subprocess.Popen(
        [sys.executable, SCRIPT, mode, str(init), str(out)], env=env or _env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def _finish(process, timeout=120):
    _, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("distributed")
    init = root / "init.npz"
    _finish(_start("single", init, root / "single.npz"))
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    processes = [_start("mirrored", init, root / "mirrored.npz")] + [
        _start("worker", init, root / f"worker{i}.npz",
               _env(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})))
        for i in range(2)
    ]
    try:
        for process in processes:
            _finish(process)
    finally:
        for process in processes:
            process.kill()
    return {name: np.load(root / f"{name}.npz") for name in ("single", "mirrored", "worker0", "worker1")}


def _assert_same_training(reference, other):
    weights = [k for k in reference.files if k.startswith("w")]
    assert weights and sorted(weights) == sorted(k for k in other.files if k.startswith("w"))
    for key in weights:
        np.testing.assert_allclose(other[key], reference[key], rtol=0, atol=1e-6, err_msg=key)
    np.testing.assert_allclose(other["step_losses"], reference["step_losses"], rtol=1e-5)
    np.testing.assert_allclose(float(other["elbo"]), float(reference["elbo"]), rtol=1e-6)


@pytest.mark.slow(reason="trains under a distribution strategy in subprocesses")
def test_mirrored_two_devices_matches_one_device(runs):
    assert int(runs["single"]["replicas"]) == 1 and int(runs["mirrored"]["replicas"]) == 2
    _assert_same_training(runs["single"], runs["mirrored"])


def test_two_workers_match_one_device_and_each_other(runs):
    assert int(runs["worker0"]["replicas"]) == 2
    _assert_same_training(runs["single"], runs["worker0"])
    _assert_same_training(runs["worker0"], runs["worker1"])


PROBE = """
import json, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
from keras_vae.layers.sampling import Sampling
zeros = [tf.zeros((4, 3)), tf.zeros((4, 3))]
single = Sampling(seed=7)(zeros).numpy().tolist()
with strategy.scope():
    layer = Sampling(seed=7)
    layer.build([(None, 3), (None, 3)])
run = tf.function(lambda: strategy.run(lambda: layer(zeros)))
replicas = [r.numpy().tolist() for r in strategy.experimental_local_results(run())]
print(json.dumps({"single": single, "replicas": replicas}))
"""


@pytest.mark.slow(reason="trains under a distribution strategy in subprocesses")
def test_replicas_draw_independent_noise():
    result = subprocess.run([sys.executable, "-c", PROBE], env=_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    draws = json.loads(result.stdout.strip().splitlines()[-1])
    first, second = (np.asarray(r) for r in draws["replicas"])
    np.testing.assert_array_equal(first, np.asarray(draws["single"]))  # replica 0 == one device
    assert not np.allclose(first, second)  # replica 1 draws other noise


@pytest.mark.slow(reason="trains under a distribution strategy in subprocesses")
def test_cli_strategy_mirrored_trains_and_multi_worker_needs_tf_config(tmp_path, monkeypatch, capsys):
    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(0).integers(0, 256, (40, 6, 6), np.uint8))
    base = [sys.executable, "-m", "keras_vae", "train", "--data", str(data), "--epochs", "1", "--latent-dim", "2",
            "--batch-size", "8", "--no-jit"]
    ok = subprocess.run(base + ["--strategy", "mirrored", "--out", str(tmp_path / "m")], env=_env(),
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert os.path.exists(tmp_path / "m" / "model.keras")
    from keras_vae.cli import main

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert main(base[3:] + ["--strategy", "multi-worker", "--out", str(tmp_path / "w")]) == 2
    assert "TF_CONFIG" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "w" / "model.keras")
