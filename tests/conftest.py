"""Shared pytest fixtures for keras_vae."""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def fashion_mnist_data_dir(tmp_path_factory):
    """TFDS data dir in which fashion_mnist is prepared offline, once per test run.

    Uses $KERAS_VAE_TEST_DATA_DIR if set (kept between runs, so later runs skip the
    preparation), else a directory under pytest's tmp_path_factory, shared by all
    pytest-xdist workers of the run. Needs Debian's `dataset-fashion-mnist` package
    (or an already prepared copy in that directory).
    """
    from keras_vae.data import load_tfds_images

    env = os.environ.get("KERAS_VAE_TEST_DATA_DIR")
    if env:
        data_dir = Path(env)
    elif os.environ.get("PYTEST_XDIST_WORKER"):
        # Each xdist worker has its own basetemp; their common parent is per run.
        data_dir = tmp_path_factory.getbasetemp().parent / "tfds_data"
    else:
        data_dir = tmp_path_factory.mktemp("tfds_data")
    data_dir.mkdir(parents=True, exist_ok=True)
    # Prepares under a file lock, so concurrent workers build it only once.
    load_tfds_images("fashion_mnist", "test[:1]", data_dir=data_dir)
    return data_dir
