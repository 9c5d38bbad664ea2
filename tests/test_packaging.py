"""keras-vae as users install it: the suite imports the installed package, and the wheel is complete.

The README's test command installs the package from a wheel built from this checkout
(`scripts/install.sh test`), and the root conftest.py keeps the checkout's folders off sys.path,
so every other test of the suite exercises the installed files. Here: that this holds, and that a
wheel built from the checkout (directly, and through its sdist) holds every module and the web
assets and passes the checks PyPI users rely on.
"""

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import keras_vae
from keras_vae.export import web

ROOT = Path(__file__).resolve().parents[1]


def test_the_suite_imports_the_installed_package_not_the_checkout():
    location = Path(keras_vae.__file__).resolve()
    assert not location.is_relative_to(ROOT), (
        f"keras_vae was imported from {location}, inside the checkout: the suite tests the installed "
        "package. Install it with `bash scripts/install.sh test` (an editable install, `dev`, tests the checkout)."
    )
    # ... and it is the file the installed distribution recorded.
    distribution = importlib.metadata.distribution("keras-vae")
    installed = {Path(distribution.locate_file(f)).resolve() for f in distribution.files}
    assert location in installed


def test_the_installed_package_is_this_checkouts_code():
    # Otherwise the suite tests a stale build: after editing, `bash scripts/install.sh test` again.
    installed = Path(keras_vae.__file__).parent
    sources = [(p, p.relative_to(ROOT / "keras_vae")) for p in (ROOT / "keras_vae").rglob("*.py")]
    sources += [(p, Path("export") / p.relative_to(ROOT / "export")) for p in (ROOT / "export").rglob("*.py")]
    stale = [str(name) for source, name in sources
             if "__pycache__" not in source.parts
             and (not (installed / name).is_file() or (installed / name).read_bytes() != source.read_bytes())]
    assert not stale, (
        f"{len(stale)} installed module(s) differ from the checkout's, e.g. keras_vae/{stale[0]}: "
        "reinstall with `bash scripts/install.sh test`"
    )


def test_subprocesses_started_in_the_checkout_import_the_installed_package():
    # `python -m keras_vae` from the repository would otherwise find ./keras_vae first.
    result = subprocess.run(
        [sys.executable, "-c", "import keras_vae; print(keras_vae.__file__)"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )
    assert Path(result.stdout.strip()).resolve() == Path(keras_vae.__file__).resolve()


def test_the_installed_package_has_the_web_assets():
    manifest = web.require_runtime()
    assert {"index.html", "explorer.js", "litertjs/wasm/litert_wasm_internal.wasm"} <= set(manifest["files"])
    pinned = json.loads((ROOT / "web" / "package.json").read_text())["dependencies"]["@litertjs/core"]
    assert manifest["litertjs_version"] == pinned
    for name in ("index.html", "explorer.js"):  # the page is the checkout's, as built
        assert (Path(web.assets_dir()) / name).read_bytes() == (ROOT / "web" / "page" / name).read_bytes()


def _checkout_copy(target):
    """Copies the checkout's tracked files (and LiteRT.js, so no npm runs) to `target`."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    node_modules = ROOT / "web" / "node_modules" / "@litertjs"
    if node_modules.is_dir():
        shutil.copytree(node_modules, target / "web" / "node_modules" / "@litertjs")
    return target


def _build(args, source, out):
    # No build isolation: the build backend (setuptools, wheel) comes with the test extra. No npm
    # on PATH: the checkout copy has LiteRT.js already, and the sdist carries it staged.
    env = dict(os.environ, PATH=os.path.dirname(sys.executable))
    result = subprocess.run([sys.executable, "-m", "build", "--no-isolation", *args, "--outdir", str(out), str(source)],
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def _contents(wheel):
    with zipfile.ZipFile(wheel) as archive:
        return {name: hashlib.sha256(archive.read(name)).hexdigest() for name in archive.namelist()}


def _expected_package_files(wheel):
    """Every module of keras_vae/ and export/ under its installed name, and the web assets."""
    expected = {f"keras_vae/{p.relative_to(ROOT / 'keras_vae').as_posix()}" for p in (ROOT / "keras_vae").rglob("*.py")}
    expected |= {f"keras_vae/export/{p.relative_to(ROOT / 'export').as_posix()}" for p in (ROOT / "export").rglob("*.py")}
    expected = {name for name in expected if "__pycache__" not in name}
    with zipfile.ZipFile(wheel) as archive:
        manifest = json.loads(archive.read("keras_vae/export/web_assets/manifest.json"))
    return expected | {f"keras_vae/export/web_assets/{name}" for name in [*manifest["files"], "manifest.json"]}


@pytest.mark.slow(reason="builds an sdist and two wheels (about 30 s)")
def test_the_wheel_is_complete_and_the_sdist_builds_the_same_one(tmp_path):
    source = _checkout_copy(tmp_path / "checkout")
    dist = _build([], source, tmp_path / "dist")  # the sdist, then the wheel from the unpacked sdist
    (wheel,), (sdist,) = dist.glob("*.whl"), dist.glob("*.tar.gz")

    package_files = {name for name in _contents(wheel) if not name.startswith("keras_vae-")}
    expected = _expected_package_files(wheel)
    assert {"keras_vae/flows/flow_model.py", "keras_vae/experiments/elbo_gap.py",
            "keras_vae/export/web_assets/litertjs/wasm/litert_wasm_internal.wasm"} <= expected
    assert package_files == expected, (sorted(expected - package_files), sorted(package_files - expected))
    # The installed package is such a build: the same files.
    installed = {f.as_posix() for f in importlib.metadata.distribution("keras-vae").files
                 if f.as_posix().startswith("keras_vae/") and "__pycache__" not in f.as_posix()}
    assert installed == package_files

    (direct,) = _build(["--wheel"], source, tmp_path / "direct").glob("*.whl")
    assert _contents(direct) == _contents(wheel)  # the sdist builds the same wheel, byte for byte
    for command in ([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
                    [sys.executable, "-m", "check_wheel_contents", str(wheel)]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
