"""Root pytest configuration, so that it applies to every run in this repository: tests/ and the
doctests in keras_vae/ alike, whichever paths are given on the command line.

tests/hermetic.py points the temp folder and every cache at fresh folders under pytest's basetemp
and fails a run that leaves new files outside them.
"""

pytest_plugins = ("tests.hermetic",)
