"""Packaging for keras-vae. `export/` installs as the subpackage `keras_vae.export`.

Packages are found, not listed: every folder with an `__init__.py` under `keras_vae/` and
`export/` goes into the wheel. The latent explorer page (`export --web`) needs LiteRT.js, an npm
package; building stages its runtime files and the page's sources (`web/page/`) into
`export/web_assets/`, which installs as package data (`keras_vae/export/web_assets/`), so an
installed wheel needs neither npm nor a checkout. The sdist carries the staged files, so a wheel
built from it is the same wheel and needs no npm either.
"""

import json
import os
import shutil
import subprocess
import tempfile

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
WEB = os.path.join(HERE, "web")
ASSETS = os.path.join(HERE, "export", "web_assets")
MANIFEST = "manifest.json"  # the staged files and the LiteRT.js version, read by keras_vae.export.web
# (source under web/, destination under web_assets/): the page and LiteRT.js's runtime (its core,
# its one dependency, and the WebAssembly builds: relaxed SIMD and the compat build).
WEB_FILES = (
    ("page/index.html", "index.html"),
    ("page/explorer.js", "explorer.js"),
    ("node_modules/@litertjs/core/dist/index.js", "litertjs/core/index.js"),
    ("node_modules/@litertjs/core/package.json", "litertjs/core/package.json"),
    ("node_modules/@litertjs/wasm-utils/dist/index.js", "litertjs/wasm-utils/index.js"),
    ("node_modules/@litertjs/core/wasm/litert_wasm_internal.js", "litertjs/wasm/litert_wasm_internal.js"),
    ("node_modules/@litertjs/core/wasm/litert_wasm_internal.wasm", "litertjs/wasm/litert_wasm_internal.wasm"),
    ("node_modules/@litertjs/core/wasm/litert_wasm_compat_internal.js", "litertjs/wasm/litert_wasm_compat_internal.js"),
    ("node_modules/@litertjs/core/wasm/litert_wasm_compat_internal.wasm", "litertjs/wasm/litert_wasm_compat_internal.wasm"),
)


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _pinned_litertjs():
    """The exact @litertjs/core version web/package.json pins."""
    return _read_json(os.path.join(WEB, "package.json"))["dependencies"]["@litertjs/core"]


def _installed_litertjs():
    package = _read_json(os.path.join(WEB, "node_modules", "@litertjs", "core", "package.json"))
    return package and package.get("version")


def _staged_complete(version):
    manifest = _read_json(os.path.join(ASSETS, MANIFEST))
    return bool(
        manifest
        and manifest.get("litertjs_version") == version
        and sorted(manifest.get("files", [])) == sorted(target for _, target in WEB_FILES)
        and all(os.path.isfile(os.path.join(ASSETS, target)) for _, target in WEB_FILES)
    )


def stage_web_assets():
    """Copies the page and the pinned LiteRT.js runtime into export/web_assets/ (whole or not at all).

    In a checkout the runtime comes from web/node_modules, installed by `npm ci` (run here when it
    is missing or another version). In an unpacked sdist web/node_modules is absent and the staged
    files it carries are used as they are.
    """
    version = _pinned_litertjs()
    if _installed_litertjs() != version:
        if _staged_complete(version):
            return  # an sdist: the staged files came with it
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit(
                "Building keras-vae stages the LiteRT.js runtime for `keras-vae export --web` from npm "
                f"(@litertjs/core {version}, pinned in web/package.json), but npm is not installed. "
                "Install Node.js and npm (Debian: apt-get install nodejs npm; `bash scripts/install.sh` "
                "does this), or build from the project's sdist, which carries the runtime."
            )
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEB, check=True)
    staging = tempfile.mkdtemp(prefix=".web_assets.", dir=os.path.dirname(ASSETS))
    try:
        for source, target in WEB_FILES:
            os.makedirs(os.path.dirname(os.path.join(staging, target)), exist_ok=True)
            shutil.copyfile(os.path.join(WEB, source), os.path.join(staging, target))
        with open(os.path.join(staging, MANIFEST), "w", encoding="utf-8") as f:
            json.dump({"litertjs_version": version, "files": [target for _, target in WEB_FILES]}, f, indent=2)
            f.write("\n")
        shutil.rmtree(ASSETS, ignore_errors=True)
        os.rename(staging, ASSETS)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class BuildPy(build_py):
    """build_py that stages the web assets before copying package data."""

    def run(self):
        stage_web_assets()
        super().run()


class SDist(sdist):
    """sdist that stages the web assets first, so the archive carries them (see MANIFEST.in)."""

    def run(self):
        stage_web_assets()
        super().run()


def _packages():
    library = find_packages(HERE, include=["keras_vae", "keras_vae.*"])
    export = ["keras_vae.export"] + [f"keras_vae.export.{name}" for name in find_packages(os.path.join(HERE, "export"))]
    return library + export


setup(
    name="keras-vae",
    version="0.1.0",
    description="Variational autoencoders for Keras 3 on TensorFlow: train, evaluate, export.",
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=_packages(),
    package_dir={"keras_vae.export": "export"},
    package_data={"keras_vae.export": [f"web_assets/{MANIFEST}"] + [f"web_assets/{target}" for _, target in WEB_FILES]},
    include_package_data=False,
    cmdclass={"build_py": BuildPy, "sdist": SDist},
    # Ranges verified together on Python 3.11, CPU (see README "Compatibility").
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.15,<3.16",
        "tensorflow-probability>=0.25,<0.26",
        # tensorflow-probability imports tf_keras at start-up without declaring it.
        "tf-keras>=2.21,<2.22",
        "tensorflow-datasets>=4.9.10,<4.10",
        # tensorflow-datasets imports importlib_resources without declaring it.
        "importlib_resources>=6",
        # tensorflow 2.21 no longer pulls in tensorboard, which keras.callbacks.TensorBoard needs.
        "tensorboard>=2.20",
        "matplotlib>=3.8",
        # keras_vae.disentanglement: DCI's gradient-boosted trees and lasso, the beta-VAE score's logistic regression.
        "scikit-learn>=1.5",
        "pillow>=10",
        "numpy>=1.26",
        # `keras-vae export`: the LiteRT interpreter (the phones' runtime) checks every TFLite file
        # it writes, and TF Serving's config messages write models.config.
        "ai-edge-litert>=2.3,<2.4",
        "tensorflow-serving-api>=2.21,<2.22",
    ],
    extras_require={
        # Kept so that `pip install keras-vae[export]` still works: export's needs are required now.
        "export": [],
        "test": [
            "pytest>=8",
            "pytest-xdist>=3.5",
            "hypothesis>=6.100",
            "scipy>=1.11",
            # The notebooks run top to bottom in the suite.
            "jupytext>=1.16",
            "nbclient>=0.10",
            "nbformat>=5.9",
            "ipykernel>=6.29",
            # Drives Debian's chromium through chromium-driver in tests/test_web.py (no browser download).
            "selenium>=4.20,<5",
            # tests/test_packaging.py builds the sdist and the wheel and checks them as PyPI would.
            "build>=1.2",
            "twine>=5",
            "check-wheel-contents>=0.6",
            "setuptools>=64",
            "wheel",
        ],
    },
    entry_points={"console_scripts": ["keras-vae=keras_vae.cli:main"]},
)
