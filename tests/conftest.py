"""Shared pytest fixtures for keras_vae."""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def fashion_mnist_data_dir(tmp_path_factory):
    """TFDS data dir in which fashion_mnist is prepared offline, once per test session.

    Uses $KERAS_VAE_TEST_DATA_DIR if set (kept between runs, so later sessions skip the
    preparation), else a fresh directory under pytest's tmp_path_factory. Needs Debian's
    `dataset-fashion-mnist` package (or an already prepared copy in that directory).
    """
    import tensorflow_datasets as tfds

    from keras_vae.data import prepare_offline_fashion_mnist

    env = os.environ.get("KERAS_VAE_TEST_DATA_DIR")
    data_dir = Path(env) if env else tmp_path_factory.mktemp("tfds_data")
    manual_dir = prepare_offline_fashion_mnist(data_dir)
    builder = tfds.builder("fashion_mnist", data_dir=str(data_dir))
    # No-op when already prepared; otherwise reads only the manual dir (no network).
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir))
    )
    return data_dir
