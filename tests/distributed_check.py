"""Trains a tiny VAE for a fixed number of steps under one tf.distribute set-up; a helper of
tests/test_distributed.py and bench/bench_distributed.py, run as a subprocess:

    python -m tests.distributed_check MODE INIT.npz OUT.npz [--noise zero|sampled] [--steps N]

MODE: "single" (default strategy), "mirrored" (MirroredStrategy over 2 logical CPU devices) or
"worker" (MultiWorkerMirroredStrategy from TF_CONFIG). The global batch is always 16. With
`--noise zero` the Sampling layer returns z = mean, so the loss is a deterministic function of
the weights and the global batch, and any difference between set-ups is the gradient
aggregation (loss scaling) plus float summation order. INIT.npz holds the initial weights (written
by the "single" mode when it does not exist yet). Writes the final weights and per-step losses.
"""

import argparse
import os
import sys

GLOBAL_BATCH = 16


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["single", "mirrored", "worker"])
    parser.add_argument("init")
    parser.add_argument("out")
    parser.add_argument("--noise", choices=["zero", "sampled"], default="zero")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    args = parser.parse_args(argv)

    import tensorflow as tf

    if args.mode == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
        )
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    elif args.mode == "worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()

    import keras
    import numpy as np

    from keras_vae.layers.sampling import Sampling
    from keras_vae import VAE, MLPDecoder, MLPEncoder

    keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()

    class MeanSampling(Sampling):
        # Zero noise: z is the posterior mean wherever the model draws it (call or noise).
        def call(self, inputs, num_samples=None, deterministic=False):
            return super().call(inputs, num_samples=num_samples, deterministic=True)

        def noise(self, shape):
            return tf.zeros(shape, self.compute_dtype)

    with strategy.scope():
        model = VAE(MLPEncoder(2, hidden_units=(32,)), MLPDecoder((6, 6, 1), hidden_units=(32,)), seed=0)
        if args.noise == "zero":
            model.sampling = MeanSampling(seed=0, name="sampling")
        model.build((None, 6, 6, 1))
        optimizer = keras.optimizers.SGD(0.05) if args.optimizer == "sgd" else keras.optimizers.Adam(1e-3)
        model.compile(optimizer=optimizer, jit_compile=False)
    if os.path.exists(args.init):
        init = np.load(args.init)
        model.set_weights([init[f"w{i}"] for i in range(len(init.files))])
    elif args.mode == "single":
        np.savez(args.init, **{f"w{i}": w for i, w in enumerate(model.get_weights())})
    else:
        sys.exit(f"{args.init} missing: run the single mode first")

    x = (np.random.default_rng(0).uniform(size=(GLOBAL_BATCH * args.steps, 6, 6, 1)) > 0.5).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(GLOBAL_BATCH)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options)

    class StepLosses(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.losses = []

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(float(logs["loss"]))

    steps = StepLosses()
    import time

    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=args.steps, callbacks=[steps], verbose=0)
    seconds = time.perf_counter() - start
    elbo = model.evaluate(tf.data.Dataset.from_tensor_slices(x).batch(GLOBAL_BATCH), verbose=0, return_dict=True)
    np.savez(
        args.out,
        replicas=strategy.num_replicas_in_sync,
        step_losses=np.asarray(steps.losses),
        elbo=float(elbo["elbo"]),
        seconds=seconds,
        **{f"w{i}": w for i, w in enumerate(model.get_weights())},
    )


if __name__ == "__main__":
    main()
