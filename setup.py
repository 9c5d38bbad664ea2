"""Packaging for keras-vae. `export/` installs as the subpackage `keras_vae.export`."""

from setuptools import setup

setup(
    name="keras-vae",
    version="0.1.0",
    description="Variational autoencoders for Keras 3 on TensorFlow: train, evaluate, export.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=[
        "keras_vae",
        "keras_vae.commands",
        "keras_vae.data",
        "keras_vae.layers",
        "keras_vae.models",
        "keras_vae.networks",
        "keras_vae.plotting",
        "keras_vae.export",
    ],
    package_dir={"keras_vae.export": "export"},
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
    ],
    extras_require={
        # The LiteRT interpreter (the phones' runtime) and TF Serving's request messages.
        "export": ["ai-edge-litert>=2.3,<2.4", "tensorflow-serving-api>=2.21,<2.22"],
        "test": [
            "pytest>=8",
            "pytest-xdist>=3.5",
            "hypothesis>=6.100",
            "scipy>=1.11",
            "ai-edge-litert>=2.3,<2.4",
            "tensorflow-serving-api>=2.21,<2.22",
            # The notebooks run top to bottom in the suite.
            "jupytext>=1.16",
            "nbclient>=0.10",
            "nbformat>=5.9",
            "ipykernel>=6.29",
            # Drives Debian's chromium through chromium-driver in tests/test_web.py (no browser download).
            "selenium>=4.20,<5",
        ],
    },
    entry_points={"console_scripts": ["keras-vae=keras_vae.cli:main"]},
)
