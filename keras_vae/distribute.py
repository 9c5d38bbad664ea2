"""tf.distribute strategies for `keras-vae train --strategy`."""

import json
import os

STRATEGIES = ("none", "mirrored", "multi-worker")


def make_strategy(name):
    """Returns the tf.distribute strategy named `name` (one of STRATEGIES).

    "none": the default strategy (one device). "mirrored": `MirroredStrategy` over all
    local GPUs (or the CPU). "multi-worker": `MultiWorkerMirroredStrategy`, configured
    from the TF_CONFIG environment variable; it must be created before any other
    TensorFlow op runs in the process.
    """
    import tensorflow as tf

    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        if not os.environ.get("TF_CONFIG"):
            raise ValueError(
                "--strategy multi-worker needs the TF_CONFIG environment variable (cluster and task); "
                "see the README, \"Training on several GPUs or a cluster\"."
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown strategy {name!r}; choose one of {list(STRATEGIES)}.")


def task():
    """Returns `(task_type, index)` from TF_CONFIG, `(None, 0)` without one."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON: {error}") from error
    entry = config.get("task") or {}
    return entry.get("type"), int(entry.get("index", 0))


def is_chief():
    """True for the worker that writes the run directory: the chief, else worker 0."""
    task_type, index = task()
    if task_type is None or task_type == "chief":
        return True
    config = json.loads(os.environ["TF_CONFIG"])
    return task_type == "worker" and index == 0 and "chief" not in config.get("cluster", {})


def scale_loss_for_replicas(loss):
    """Returns `loss / R` under a strategy with R > 1 replicas in sync, else `loss`.

    The optimizer SUMS the replicas' gradients (keras/src/backend/tensorflow/optimizer.py,
    `_all_reduce_sum_gradients`); a custom `train_step` whose loss is a mean over the
    replica's share of the global batch must divide it by R, so that the summed gradient is
    the gradient of the global-batch mean (Keras' compiled losses do the same through
    `scale_loss_for_distribution`). Use it only for the gradient, not for metrics.
    """
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / replicas if replicas > 1 else loss


def step_outputs(results):
    """Returns a train/test step's metric dict in a form Keras 3.15 can reduce across workers.

    Under MultiWorkerMirroredStrategy Keras reduces step outputs with
    `strategy.reduce(MEAN, value, axis=0)`, which fails on scalars; each value gets a
    length-1 axis there (and only there).
    """
    import tensorflow as tf
    from keras import ops

    strategy = tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode():
        return {name: ops.reshape(value, (1,)) for name, value in results.items()}
    return results
