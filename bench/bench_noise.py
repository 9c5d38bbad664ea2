"""Cost of stateless normal draws inside an XLA-compiled function on CPU: default algorithm vs Philox.

keras.random.normal uses TensorFlow's default stateless algorithm ("auto_select");
keras_vae.layers.noise uses Philox. Both are timed in this one process, alternating, for the
VAE's reparameterisation noise (batch 128 x latent 40) and a DAE's input noise (128 x 784),
with and without XLA. Writes bench/results/noise.json.

    python bench/bench_noise.py
"""

import json
import os
import platform
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def main(calls=500, repeats=3):
    import keras
    import tensorflow as tf

    from keras_vae.layers import noise

    def draw_keras(shape):
        generator = keras.random.SeedGenerator(0)
        return lambda: keras.random.normal(shape, seed=generator)

    def draw_philox(shape):
        generator = keras.random.SeedGenerator(0)
        return lambda: noise.normal(shape, generator)

    results = []
    for shape in ((128, 40), (128, 784)):
        for jit in (True, False):
            times = {"keras.random.normal": [], "keras_vae.layers.noise.normal": []}
            functions = {
                "keras.random.normal": tf.function(draw_keras(shape), jit_compile=jit),
                "keras_vae.layers.noise.normal": tf.function(draw_philox(shape), jit_compile=jit),
            }
            for function in functions.values():
                function()  # trace and compile
            for _ in range(repeats):
                for name, function in functions.items():
                    start = time.perf_counter()
                    for _ in range(calls):
                        out = function()
                    out.numpy()
                    times[name].append((time.perf_counter() - start) / calls * 1e3)
            best = {name: min(values) for name, values in times.items()}
            row = {"shape": list(shape), "jit_compile": jit, "ms_per_draw_best_of_repeats": best,
                   "ratio_default_over_philox": best["keras.random.normal"] / best["keras_vae.layers.noise.normal"]}
            print(json.dumps(row), flush=True)
            results.append(row)
    data = {
        "description": "ms per stateless normal draw in a tf.function (one call per draw, including call overhead)",
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "tensorflow": tf.__version__,
                    "keras": keras.__version__, "load_average_1_5_15_min": list(os.getloadavg())},
        "results": results,
    }
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "noise.json"), "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
