"""Root pytest configuration: the suite tests the installed keras_vae, not this checkout's files.

pytest runs with `--import-mode=importlib` (pytest.ini), which puts no test folder on sys.path,
and `python -m pytest` puts the working directory (this repository) first on it; this file takes
the repository off sys.path again, so `import keras_vae` finds the installed package (the wheel
that `scripts/install.sh test` installed) and never the `keras_vae/` folder here, which lacks
`keras_vae.export` and the web assets. The tests' own package, `tests`, is imported from its file
instead. tests/test_packaging.py checks that this worked.

tests/hermetic.py then points the temp folder and every cache at fresh folders under pytest's
basetemp and fails a run that leaves new files outside them.
"""

import importlib.util
import os
import sys

_ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _ROOT]
if "tests" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "tests", os.path.join(_ROOT, "tests", "__init__.py"), submodule_search_locations=[os.path.join(_ROOT, "tests")]
    )
    sys.modules["tests"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["tests"])

pytest_plugins = ("tests.hermetic",)
