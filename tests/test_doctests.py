"""The `>>>` examples of `keras_vae.export`, which pytest's own doctest collection does not reach.

`export/` is installed as `keras_vae.export` (setup.py package_dir), so it is not under
the `keras_vae` test path, and collecting `export/` by path would import it a second time
as a top-level `export` package. Each module's examples run here under its installed name,
with `tempfile` pointed into pytest's tmp_path, so whatever they write stays there.
"""

import doctest
import importlib
import pkgutil
import tempfile

import pytest

import keras_vae.export

MODULES = sorted(module.name for module in pkgutil.iter_modules(keras_vae.export.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_export_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    module = importlib.import_module(f"keras_vae.export.{name}")
    # ELLIPSIS as pytest's own doctest collection uses it (its default doctest_optionflags).
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=True)
    assert result.attempted > 0, f"keras_vae.export.{name} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of keras_vae.export.{name} failed"

