"""Decode latency and throughput: Keras predict, direct call, SavedModel signature, TFLite variants.

    python bench/bench_decode.py RUN_DIR [--export DIR] [--out bench/results/decode.json]

Exports RUN_DIR/model.keras (to a temporary directory unless --export names an existing
export or a new one to write), then times decoding prior draws z ~ N(0, I) at batch 1,
32 and 256 with each method, in one process:

    keras_predict     a keras.Model around decoder + likelihood mean, `.predict(z, verbose=0)`
    keras_call        the eager direct call `model.decode(z)` (decoder(z), then the mean)
    saved_model       `tf.saved_model.load(...).signatures["decode"](z=...)`
    tflite_<variant>  LiteRT interpreter (ai_edge_litert), input resized to the batch

Each figure is the median over repeated calls after warm-up calls; per-image latency is
the call latency divided by the batch size, throughput its inverse.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np

BATCH_SIZES = (1, 32, 256)
HERE = os.path.dirname(os.path.abspath(__file__))


def time_call(fn, min_seconds=0.5, min_repeats=5, max_repeats=300, warmup=3):
    """Returns the median seconds per call of `fn()` (after `warmup` untimed calls)."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < max_repeats and (len(times) < min_repeats or time.perf_counter() - start < min_seconds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), len(times)


def methods(model, saved_model_dir, tflite_paths, num_threads):
    """Returns {method name: function(z) -> images} for every decode path."""
    import keras
    import tensorflow as tf

    from keras_vae.export.tflite import load_interpreter

    z_in = keras.Input((model.latent_dim,))
    predictor = keras.Model(z_in, model.likelihood.mean(model.decoder(z_in)))
    decode = tf.saved_model.load(saved_model_dir).signatures["decode"]
    result = {
        "keras_predict": lambda z: predictor.predict(z, batch_size=len(z), verbose=0),
        "keras_call": lambda z: model.decode(z),
        "saved_model": lambda z: decode(z=tf.constant(z)),
    }
    for variant, path in tflite_paths.items():
        interpreter = load_interpreter(path, num_threads=num_threads)
        result[f"tflite_{variant}"] = _tflite_runner(interpreter)
    return result


def _tflite_runner(interpreter):
    state = {"batch": None}
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]

    def run(z):
        if state["batch"] != len(z):  # resize once per batch size, outside the steady state
            interpreter.resize_tensor_input(input_index, list(z.shape))
            interpreter.allocate_tensors()
            state["batch"] = len(z)
        interpreter.set_tensor(input_index, z)
        interpreter.invoke()
        return interpreter.get_tensor(output_index)

    return run


def main(argv=None):
    """Runs the benchmark; writes the JSON results; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="run directory holding model.keras (keras-vae train --out)")
    parser.add_argument("--export", default=None, help="export directory (default: a temporary one)")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "decode.json"))
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="LiteRT threads")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from keras_vae.export.exporter import export_run
    from keras_vae.export.tflite import VARIANTS
    from keras_vae.runs import Run

    export_dir = args.export or os.path.join(tempfile.mkdtemp(prefix="bench-decode-"), "export")
    if not os.path.exists(os.path.join(export_dir, "export_report.json")):
        export_run(args.run_dir, export_dir)
    with open(os.path.join(export_dir, "export_report.json")) as f:
        export_report = json.load(f)
    model = Run(args.run_dir).load_model()
    tflite_paths = {v: os.path.join(export_dir, "tflite", f"decoder_{v}.tflite") for v in VARIANTS}
    runners = methods(model, export_report["saved_model"]["path"], tflite_paths, args.threads)

    rng = np.random.default_rng(0)
    results = {}
    for name, run in runners.items():
        results[name] = {}
        for batch in BATCH_SIZES:
            z = rng.standard_normal((batch, model.latent_dim)).astype("float32")
            seconds, repeats = time_call(lambda: run(z))
            results[name][str(batch)] = {
                "ms_per_call": 1000 * seconds,
                "ms_per_image": 1000 * seconds / batch,
                "images_per_second": batch / seconds,
                "repeats": repeats,
            }
            print(f"{name:<20} batch {batch:>4}: {1000 * seconds:9.3f} ms/call {batch / seconds:12.0f} images/s")

    sizes = {v: export_report["tflite"][v]["bytes"] for v in VARIANTS}
    summary = {
        "tflite_float32_vs_keras_predict_speedup_batch1": results["keras_predict"]["1"]["ms_per_call"]
        / results["tflite_float32"]["1"]["ms_per_call"],
        "tflite_int8_vs_keras_predict_speedup_batch1": results["keras_predict"]["1"]["ms_per_call"]
        / results["tflite_int8"]["1"]["ms_per_call"],
        "int8_size_fraction_of_float32": sizes["int8"] / sizes["float32"],
        "dynamic_int8_size_fraction_of_float32": sizes["dynamic_int8"] / sizes["float32"],
        "float16_size_fraction_of_float32": sizes["float16"] / sizes["float32"],
    }
    output = {
        "run_dir": os.path.abspath(args.run_dir),
        "latent_dim": int(model.latent_dim),
        "data_shape": [int(d) for d in model.data_shape],
        "results": results,
        "tflite_bytes": sizes,
        "tflite_errors_vs_keras": {
            v: {k: export_report["tflite"][v][k] for k in ("max_abs_pixel_difference", "mean_abs_pixel_difference")}
            for v in VARIANTS
        },
        "summary": summary,
        "environment": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "cpu_count": os.cpu_count(),
            "litert_threads": args.threads,
            "machine": platform.machine(),
        },
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(output, f, indent=2)
        f.write("\n")
    for key, value in summary.items():
        print(f"{key}: {value:.3f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
