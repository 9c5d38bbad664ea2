"""Shared pytest fixtures for keras_vae."""

import os

import pytest

from tests import hermetic


@pytest.fixture(scope="session")
def fashion_mnist_data_dir(request):
    """TFDS data dir in which fashion_mnist is prepared offline, once per test run.

    The run's own TFDS data dir (tests/hermetic.py): a fresh folder under pytest's basetemp,
    shared by all pytest-xdist workers of the run and also TFDS's default data dir in the
    tests, so loads with `data_dir=None` reuse the same preparation. `load_tfds_images`
    prepares under a file lock: the first worker prepares, the other waits and reads.
    Needs Debian's `dataset-fashion-mnist` package.

    Args:
        request (pytest.FixtureRequest): gives the run's config.

    Returns:
        pathlib.Path: the data dir, with fashion_mnist prepared.
    """
    from keras_vae.data import load_tfds_images

    data_dir = hermetic.hermetic_path(request.config, "TFDS_DATA_DIR")
    # The same folder TFDS uses by default here; a mismatch would prepare it twice.
    assert os.environ["TFDS_DATA_DIR"] == os.fspath(data_dir)
    load_tfds_images("fashion_mnist", "test[:1]", data_dir=data_dir)
    return data_dir


# Fixtures whose set-up is what makes a test slow: a test that uses one belongs to the full tier
# (`pytest -m "not slow"` leaves it out), for the reason given.
SLOW_FIXTURES = {
    "fashion_mnist_data_dir": "prepares real Fashion-MNIST with TFDS and trains on it",
    "exported": "shares a full export of a trained model (SavedModel, TFLite variants, checks)",
    "runs": "shares training runs under distribution strategies in subprocesses",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for mark in item.iter_markers("slow"):
            if not mark.kwargs.get("reason"):
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.slow needs reason=\"...\" (why it is slow).")
        for name in SLOW_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow(reason=SLOW_FIXTURES[name]))
