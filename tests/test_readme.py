"""The README's Python quickstart runs as written (with one epoch)."""

import pathlib
import re

import numpy as np
import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow(reason="trains the README's quickstart on 6,000 Fashion-MNIST images")
def test_quickstart_runs(tmp_path, monkeypatch):
    code = re.search(r"## Quickstart in Python\n\n```python\n(.*?)```", README.read_text(), re.S).group(1)
    assert "epochs=5" in code and code.count('"train")') == 1
    # One epoch on the first 6,000 training images: the same code path in a fraction of the time.
    code = code.replace("epochs=5", "epochs=1").replace('"train")', '"train[:6000]")')
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert namespace["images"].shape == (16, 28, 28, 1)
    assert np.asarray(namespace["reconstructions"]).shape == (8, 28, 28, 1)
    assert (tmp_path / "fashion_vae.keras").is_file()
