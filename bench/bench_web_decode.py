"""Decode latency per image: LiteRT.js in headless Chromium vs the Python LiteRT interpreter.

    python bench/bench_web_decode.py EXPORT_DIR [--runs 500] [--out bench/results/web_decode.json]
                                     [--screenshot docs/latent_explorer.png]

EXPORT_DIR is a `keras-vae export RUN --out EXPORT_DIR --web` folder. In one run, for every
variant of its decoder, on the same machine and inputs (random z, the first class for a cvae):

    browser  the latent explorer page, served from EXPORT_DIR/tflite on 127.0.0.1, in Debian's
             headless Chromium: `window.explorer.timeDecodes`, each decode = Tensor creation,
             `model.run` (LiteRT.js, WebAssembly, XNNPACK, 1 thread), read back; the median
             and mean per decode (performance.now() resolves 0.1 ms, with jitter, so the mean
             is the finer figure) and the mean per decode of the whole loop (with drawing the
             image and updating the controls)
    python   ai_edge_litert's Interpreter on decoder_<variant>.tflite, 1 thread, batch 1:
             set_tensor + invoke + get_tensor, timed with time.perf_counter; median and mean

--screenshot saves a PNG of the page after the runs.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def python_latency(path, inputs, runs):
    """Median and mean ms of batch-1 decodes of `inputs` rows with the Python LiteRT interpreter."""
    from keras_vae.export.tflite import feed_decoder, load_interpreter

    interpreter = load_interpreter(path, num_threads=1)
    one = lambda i: {k: v[i % len(v)][None] for k, v in inputs.items()}  # noqa: E731
    for i in range(50):
        interpreter.get_tensor(feed_decoder(interpreter, one(i)))
    times = []
    for i in range(runs):
        start = time.perf_counter()
        interpreter.get_tensor(feed_decoder(interpreter, one(i)))
        times.append(1000 * (time.perf_counter() - start))
    return {"median_ms": float(np.median(times)), "mean_ms": float(np.mean(times))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export_dir")
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--out", default=os.path.join(HERE, "results", "web_decode.json"))
    parser.add_argument("--screenshot", default=None)
    args = parser.parse_args(argv)

    from keras_vae.export import browser

    folder = os.path.join(os.path.abspath(args.export_dir), "tflite")
    meta = json.load(open(os.path.join(folder, "decoder_metadata.json")))
    settings = json.load(open(os.path.join(folder, "explorer.json")))
    rng = np.random.default_rng(0)
    inputs = {"z": rng.standard_normal((args.runs, meta["latent_dim"])).astype("float32")}
    if "condition" in meta:
        width = meta["condition"].get("num_classes") or meta["condition"]["condition_dim"]
        inputs["condition"] = np.zeros((args.runs, width), "float32")
        inputs["condition"][:, 0] = 1
    results = {}
    with tempfile.TemporaryDirectory() as scratch, browser.serve(folder) as url, browser.headless_chromium(scratch) as driver:
        driver.get(url + "/")
        state, status = browser.wait_for_page(driver)
        if state != "ready":
            raise SystemExit(f"The page did not load: {status}")
        for variant in settings["variants"]:
            timed = driver.execute_async_script(
                "const [variant, runs, done] = arguments;"
                "window.explorer.timeDecodes(variant, runs).then(done, (e) => done({error: String(e)}));",
                variant, args.runs,
            )
            if "error" in timed:
                raise SystemExit(f"{variant}: {timed['error']}")
            results[variant] = {
                "browser_median_ms": float(np.median(timed["times"])),
                "browser_mean_ms": float(np.mean(timed["times"])),
                "browser_loop_mean_ms": timed["loop_ms"] / args.runs,
                **{f"python_{k}": v for k, v in python_latency(os.path.join(folder, f"decoder_{variant}.tflite"), inputs, args.runs).items()},
            }
            print(variant, json.dumps(results[variant]))
        if args.screenshot:
            driver.execute_async_script(  # the prior's mean, the second class (Fashion-MNIST: trouser)
                "const done = arguments[0]; const s = window.explorer.state;"
                "window.explorer.show(s.web.center, {variant: 'float32', label: s.meta.condition ? 1 : undefined})"
                ".then(() => done(), () => done());"
            )
            driver.save_screenshot(args.screenshot)
        user_agent = driver.execute_script("return navigator.userAgent")
    record = {
        "export": os.path.abspath(args.export_dir),
        "kind": meta["kind"], "latent_dim": meta["latent_dim"], "data_shape": meta["data_shape"],
        "runs": args.runs,
        "browser": user_agent,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
                    "load_average": os.getloadavg()},
        "variants": results,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
