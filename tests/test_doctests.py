"""The `>>>` examples of every module of the installed keras_vae (keras_vae.export included).

The suite tests the installed package (the root conftest.py), so the examples run from the
installed modules, under their installed names, rather than from this checkout's files by
pytest's `--doctest-modules`. `tempfile` is pointed into pytest's tmp_path, so whatever an
example writes stays there.
"""

import doctest
import importlib
import pkgutil
import tempfile

import pytest

import keras_vae

MODULES = sorted(module.name for module in pkgutil.walk_packages(keras_vae.__path__, prefix="keras_vae."))
# Examples that export, train or prepare Fashion-MNIST: the full tier only.
SLOW = {
    "keras_vae.data.tfds_images": "prepares Fashion-MNIST with TFDS",
    "keras_vae.training": "trains through keras_vae.training.train",
    "keras_vae.export.exporter": "a full export of a run",
    "keras_vae.export.report": "a full export and its report",
    "keras_vae.export.tflite": "converts decoders to TFLite",
}
# Modules that must have examples (the public API); others run theirs when they have any.
MUST_HAVE_EXAMPLES = ("keras_vae.export.",)


def test_every_module_is_found():
    assert {"keras_vae.objectives", "keras_vae.export.web", "keras_vae.flows.flow_model"} <= set(MODULES)


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=pytest.mark.slow(reason=SLOW[name])) if name in SLOW else name for name in MODULES]
)
def test_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    module = importlib.import_module(name)
    # ELLIPSIS as pytest's own doctest collection uses it (its default doctest_optionflags).
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=True)
    if name.startswith(MUST_HAVE_EXAMPLES) and name.count(".") == 2:
        assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
