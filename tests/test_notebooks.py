"""The notebooks run top to bottom in fast mode (KERAS_VAE_FAST=1) and draw their figures."""

from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# Each notebook's figures (PNG outputs: a cell ending with a Figure, or display(fig)) in fast mode.
EXPECTED_FIGURES = {
    "01_quickstart": 4,
    "02_latent_space": 7,
    "03_export_and_serve": 3,
    "04_conditional": 4,
    "05_semi_supervised": 3,
    "06_flows": 4,
    "07_disentanglement": 4,
    "08_tutorial_experiments": 7,
}


@pytest.mark.slow(reason="runs a notebook top to bottom in a Jupyter kernel")
@pytest.mark.parametrize("name", sorted(EXPECTED_FIGURES))
def test_notebook_runs_in_fast_mode(name, fashion_mnist_data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_VAE_FAST", "1")
    monkeypatch.setenv("KERAS_VAE_DATA_DIR", str(fashion_mnist_data_dir))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    # The paired .ipynb holds the same code as the .py.
    paired = jupytext.read(NOTEBOOKS / f"{name}.ipynb")
    code = lambda nb: [c.source for c in nb.cells if c.cell_type == "code"]  # noqa: E731
    assert code(paired) == code(notebook), f"{name}.ipynb is out of sync with {name}.py: jupytext --sync"
    # Raises CellExecutionError, with the failing cell and traceback, on any error.
    nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    shown = ("display_data", "execute_result")
    figures = [out for out in outputs if out.output_type in shown and "image/png" in out.get("data", {})]
    assert len(figures) == EXPECTED_FIGURES[name]
    assert all(len(figure["data"]["image/png"]) > 1000 for figure in figures)
