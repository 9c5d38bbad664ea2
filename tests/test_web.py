"""The latent explorer (`keras-vae export --web`) in a real headless browser.

One small class-conditional VAE (8x8 images, latent 3, 3 classes) is trained briefly and
exported once with `keras-vae export --web --model-base-path /models/vae` (module fixture).
One Chromium session (Debian's chromium + chromedriver, driven by Selenium) then loads the
page from a local http.server on 127.0.0.1 and checks, in order: the page's controls; that
the decoded outputs and the drawn pixels equal the Python LiteRT interpreter's for a fixed
set of latent vectors, classes and every variant; and that a missing or corrupt decoder, or a
missing runtime, shows a clear message. Missing Chromium fails the tests with the install
command (scripts/install.sh test installs it); nothing is skipped.
"""

import json
import os
import re
import shutil

import keras
import numpy as np
import pytest

from keras_vae.data import make_dataset
from keras_vae.export import browser, tflite, web
from keras_vae.cli import main as cli_main
from keras_vae.models.builder import build_model

DATA_SHAPE = (8, 8, 1)
LATENT_DIM = 3
NUM_CLASSES = 3
VARIANTS = ("float32", "float16", "dynamic_int8", "int8")
# Browser (LiteRT.js WebAssembly, XNNPACK) vs the Python LiteRT interpreter on the same .tflite
# variant, per decoded pixel. Measured here: at most 1.2e-7 for the float variants and
# dynamic_int8, 0 for int8. Float kernels may sum in another order on another CPU, hence 1e-5;
# int8 outputs are dequantised from uint8 steps of ~1/256, so one step is allowed.
DECODE_TOLERANCE = {"float32": 1e-5, "float16": 1e-5, "dynamic_int8": 1e-5, "int8": 1 / 255}
# The fixed latent vectors (with their classes) every variant decodes in both runtimes.
FIXED_Z = np.array(
    [[0, 0, 0], [1.5, -0.5, 0.25], [-2.0, 1.0, -1.0], [0.3, 2.5, 0.7], [-0.8, -1.9, 2.2], [3.0, 3.0, -3.0]],
    "float32",
)
FIXED_LABELS = [0, 1, 2, 0, 1, 2]


def structured_images(n, seed=0):
    """Binary 8x8 images of one rectangle each, labelled by its position (left, middle, right)."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, *DATA_SHAPE), "float32")
    labels = np.zeros(n, "int32")
    for i in range(n):
        top, left = rng.integers(0, 6, size=2)
        height, width = rng.integers(2, 9 - max(top, left), size=2)
        images[i, top : top + height, left : left + width, 0] = 1.0
        labels[i] = min(2, (2 * left + width) * 3 // 16)
    return images, labels


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    """A briefly trained cvae run exported with `keras-vae export --web --model-base-path /models/vae`."""
    root = tmp_path_factory.mktemp("web")
    keras.utils.set_random_seed(0)
    model = build_model("cvae", DATA_SHAPE, "mlp", LATENT_DIM, "bernoulli", seed=0, num_classes=NUM_CLASSES)
    images, labels = structured_images(1024)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    model.fit(make_dataset(images, labels, batch_size=64, seed=0), epochs=3, verbose=0)
    run_dir = root / "run"
    run_dir.mkdir()
    model.save(run_dir / "model.keras")
    out = root / "site" / "export"
    code = cli_main(["export", str(run_dir), "--out", str(out), "--web", "--model-base-path", "/models/vae"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def site(export_dir):
    """The served folder: the export, a copy with broken decoders, and a copy without the runtime."""
    root = export_dir.parent
    good = export_dir / "tflite"
    broken = root / "broken"
    shutil.copytree(good, broken)
    os.remove(broken / web.web_file("float32"))  # missing: the page's first decoder
    size = os.path.getsize(good / web.web_file("float16"))
    (broken / web.web_file("float16")).write_bytes(np.random.default_rng(0).bytes(size))  # garbage
    valid_header = (good / web.web_file("int8")).read_bytes()
    # The TFLite identifier intact, the rest of the flatbuffer zeroed: only LiteRT.js can tell.
    (broken / web.web_file("int8")).write_bytes(valid_header[:8] + bytes(len(valid_header) - 8))
    no_runtime = root / "no_runtime"
    shutil.copytree(good, no_runtime)
    shutil.rmtree(no_runtime / "litertjs" / "wasm")
    return root


@pytest.fixture(scope="module")
def page(site, tmp_path_factory):
    """(driver, base_url): one headless Chromium session and one local server for the module."""
    with browser.serve(site) as base_url, browser.headless_chromium(tmp_path_factory.mktemp("chromium")) as driver:
        yield driver, base_url


def python_decode(path, z, label):
    """The Python LiteRT interpreter's decoding of one latent vector and class (batch 1)."""
    interpreter = tflite.load_interpreter(path)
    condition = np.eye(NUM_CLASSES, dtype="float32")[[label]]
    return tflite.run_decoder(interpreter, np.asarray(z, "float32")[None], condition)[0]


@pytest.mark.slow(reason="exports a run and decodes it in headless Chromium")
def test_web_export_writes_a_self_contained_page(export_dir):
    folder = export_dir / "tflite"
    for name in ("index.html", "explorer.js", "explorer.json", "litertjs/core/index.js", "litertjs/wasm-utils/index.js",
                 "litertjs/wasm/litert_wasm_internal.wasm", "litertjs/wasm/litert_wasm_compat_internal.wasm"):
        assert (folder / name).is_file(), name
    settings = json.loads((folder / "explorer.json").read_text())
    assert settings["variants"] == list(VARIANTS) and settings["default_variant"] == "float32"
    assert settings["map"]["dims"] == [0, 1] and "first two latent dimensions" in settings["map"]["description"]
    assert settings["center"] == [0.0] * LATENT_DIM and settings["scale"] == [1.0] * LATENT_DIM
    assert settings["litertjs_version"] == web.pinned_version()
    # The page loads only relative URLs (the browser test checks every request it made too).
    html = (folder / "index.html").read_text() + (folder / "explorer.js").read_text()
    urls = re.findall(r"""(?:src=|href=|from |import\(|fetch\(|: )["']([^"']+\.(?:js|json|wasm|tflite|css))["']""", html)
    assert urls and all(not re.match(r"[a-z]+:|/", url) for url in urls), urls
    # --model-base-path: the container's layout in models.config, not this machine's path.
    config = (export_dir / "saved_model" / "models.config").read_text()
    assert 'base_path: "/models/vae"' in config and str(export_dir) not in config


@pytest.mark.slow(reason="exports a run and decodes it in headless Chromium")
def test_batch1_copies_compute_what_the_exported_decoders_compute(export_dir):
    folder = export_dir / "tflite"
    for variant in VARIANTS:
        for z, label in zip(FIXED_Z, FIXED_LABELS):
            original = python_decode(folder / f"decoder_{variant}.tflite", z, label)
            copy = python_decode(folder / web.web_file(variant), z, label)
            np.testing.assert_array_equal(copy, original, err_msg=variant)


@pytest.mark.slow(reason="exports a run and decodes it in headless Chromium")
def test_page_shows_its_controls(page):
    driver, base_url = page
    driver.get(base_url + "/export/tflite/")
    state, status = browser.wait_for_page(driver)
    assert state == "ready", status
    controls = driver.execute_script(
        """return {
            variants: [...document.querySelectorAll('#variant option')].map(o => o.value),
            classes: [...document.querySelectorAll('#class option')].map(o => o.value),
            classHidden: document.getElementById('class-row').hidden,
            sliders: [...document.querySelectorAll('#sliders input[type=range]')].map(i => i.getAttribute('aria-label')),
            mapNote: document.getElementById('map-note').textContent,
            timing: document.getElementById('timing').textContent,
        }"""
    )
    assert controls["variants"] == list(VARIANTS)
    assert controls["classes"] == ["0", "1", "2"] and not controls["classHidden"]
    assert controls["sliders"] == ["z[2]"]  # z[0], z[1] are the map
    assert "first two latent dimensions" in controls["mapNote"]
    assert "ms" in controls["timing"] and "float32" in controls["timing"]
    # No request left the export folder: every resource came from the local server.
    requests = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert any(url.endswith(".wasm") for url in requests) and any(url.endswith("_batch1.tflite") for url in requests)
    assert all(url.startswith(base_url + "/export/tflite/") for url in requests), requests
    before = driver.execute_script("return window.explorer.state.lastDecode")
    driver.find_element("id", "random").click()
    browser.wait_for_page(driver)
    driver.execute_async_script("const done = arguments[0]; setTimeout(done, 500);")
    after = driver.execute_script("return window.explorer.state.lastDecode")
    assert after["z"] != before["z"] and after["pixels"] != before["pixels"]
    # Dragging on the map moves z[0] and z[1]: a click at the map's top-right corner area.
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).move_to_element_with_offset(driver.find_element("id", "map"), 100, -100).click().perform()
    driver.execute_async_script("const done = arguments[0]; setTimeout(done, 500);")
    dragged = driver.execute_script("return window.explorer.state.lastDecode")
    assert dragged["z"][0] > 1.5 and dragged["z"][1] > 1.5 and dragged["z"][2] == after["z"][2]


@pytest.mark.slow(reason="exports a run and decodes it in headless Chromium")
@pytest.mark.parametrize("variant", VARIANTS)
def test_browser_decodes_as_the_python_interpreter(page, export_dir, variant):
    driver, base_url = page
    if not driver.current_url.startswith(base_url + "/export/tflite/"):
        driver.get(base_url + "/export/tflite/")
    assert browser.wait_for_page(driver)[0] == "ready"
    height, width, _ = DATA_SHAPE
    for z, label in zip(FIXED_Z, FIXED_LABELS):
        result = browser.show(driver, z, variant, label)
        assert "error" not in result, result
        assert result["variant"] == variant and result["condition"] == list(np.eye(NUM_CLASSES)[label])
        expected = python_decode(export_dir / "tflite" / f"decoder_{variant}.tflite", z, label)
        got = np.asarray(result["pixels"], "float64").reshape(expected.shape)
        assert np.abs(got - expected).max() <= DECODE_TOLERANCE[variant], (variant, z, np.abs(got - expected).max())
        # The pixels drawn, read back from the canvas: uint8 round(clip(x) * 255), within the same tolerance.
        drawn = np.asarray(driver.execute_script("return window.explorer.imageBytes()")).reshape(height, width, 4)
        wanted = np.round(np.clip(expected[..., 0], 0, 1) * 255)
        assert np.abs(drawn[..., 0] - wanted).max() <= 1 + 255 * DECODE_TOLERANCE[variant]
        assert (drawn[..., 3] == 255).all() and (drawn[..., 0] == drawn[..., 2]).all()
    # The fixed vectors decode to different images: the comparison is not of blank canvases.
    assert np.ptp(np.asarray(result["pixels"])) > 0.1


def status(driver):
    return driver.execute_script(
        "const s = document.getElementById('status'); return [document.body.dataset.state, s.className, s.textContent]"
    )


@pytest.mark.slow(reason="exports a run and decodes it in headless Chromium")
def test_missing_or_corrupt_decoder_shows_a_clear_message(page):
    driver, base_url = page
    driver.get(base_url + "/broken/")
    state, _ = browser.wait_for_page(driver)
    assert state == "error"
    _, css, text = status(driver)
    assert css == "error" and web.web_file("float32") in text and "HTTP 404" in text and "missing" in text
    result = browser.show(driver, FIXED_Z[1], "float16", 1)
    assert "corrupt" in result["error"]
    _, css, text = status(driver)
    assert css == "error" and web.web_file("float16") in text and "not a TFLite model" in text
    result = browser.show(driver, FIXED_Z[1], "int8", 1)
    assert "corrupt" in result["error"] and "LiteRT.js could not load it" in status(driver)[2]
    # The intact decoder still works after the failures.
    result = browser.show(driver, FIXED_Z[1], "dynamic_int8", 1)
    assert "error" not in result and status(driver)[0] == "ready" and status(driver)[1] == ""


@pytest.mark.slow(reason="exports a run and decodes it in headless Chromium")
def test_missing_runtime_shows_a_clear_message(page):
    driver, base_url = page
    driver.get(base_url + "/no_runtime/")
    state, text = browser.wait_for_page(driver)
    assert state == "error" and "LiteRT.js runtime could not be loaded" in text and "--web" in text


def test_export_refuses_web_without_the_runtime(tmp_path, monkeypatch, capsys):
    incomplete = tmp_path / "web_assets"  # an installation whose assets were lost
    incomplete.mkdir()
    (incomplete / "manifest.json").write_text(json.dumps({"litertjs_version": "2.5.3", "files": ["index.html"]}))
    monkeypatch.setattr(web, "assets_dir", lambda: str(incomplete))
    out = tmp_path / "out"
    # Refused before the run is even read: RUN_DIR need not exist.
    assert cli_main(["export", str(tmp_path / "no-run"), "--out", str(out), "--web"]) == 2
    message = capsys.readouterr().err
    assert "LiteRT.js" in message and "index.html" in message and "reinstall" in message and "without --web" in message
    assert not out.exists()
