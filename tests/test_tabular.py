"""Tabular data: CSV/.npy loading with clear errors, standardisation, and an MLP VAE via the CLI."""

import csv
import json
import os

import keras
import numpy as np
import pytest

from keras_vae.cli import main
from keras_vae.data import DataError
from keras_vae.data.tables import Standardizer, is_table_file, load_csv, load_table, load_user_table

FAST = ["--epochs", "2", "--batch-size", "32", "--latent-dim", "2"]


def write(path, text):
    path.write_text(text)
    return path


def correlated_table(n=400, seed=0):
    """Rows of 6 features driven by 2 latent factors, on very different scales."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    x = z @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(n, 6))
    return x * np.array([1, 10, 100, 0.1, 1, 5]) + np.array([0, 50, -20, 3, 0, 1])


def test_csv_with_a_header_and_without(tmp_path):
    values, columns = load_csv(write(tmp_path / "a.csv", "a, b ,c\n1,2,3\n4.5,-5e1,6\n"))
    assert columns == ["a", "b", "c"] and values.dtype == np.float32
    np.testing.assert_array_equal(values, [[1, 2, 3], [4.5, -50, 6]])
    values, columns = load_csv(write(tmp_path / "b.csv", "1,2\n3,4\n\n"))  # blank lines are skipped
    assert columns == ["0", "1"] and values.shape == (2, 2)
    # header=True forces a numeric first row to be the header.
    _, columns = load_csv(tmp_path / "b.csv", header=True)
    assert columns == ["1", "2"]
    assert is_table_file(tmp_path / "a.csv")


def test_non_numeric_cells_are_named_by_line_column_and_value(tmp_path):
    path = write(tmp_path / "c.csv", "age,colour,height\n31,1,1.8\n40,red,1.7\n")
    with pytest.raises(DataError, match=r"line 3, column 'colour' \(number 2\): 'red' is not a number"):
        load_csv(path)
    with pytest.raises(DataError, match=r"line 2, column 2: 'x' is not a number"):
        load_csv(write(tmp_path / "d.csv", "1,2\n3,x\n"))


@pytest.mark.parametrize("cell", ["", "NaN", "nan", "NA"])
def test_missing_and_nan_cells_are_named(tmp_path, cell):
    path = write(tmp_path / "e.csv", f"a,b\n1,2\n3,{cell}\n")
    with pytest.raises(DataError, match=r"line 3, column 'b' \(number 2\): empty or NaN cell"):
        load_csv(path)


def test_other_bad_tables(tmp_path):
    with pytest.raises(DataError, match="line 3: 3 cells but the first row has 2"):
        load_csv(write(tmp_path / "f.csv", "a,b\n1,2\n1,2,3\n"))
    with pytest.raises(DataError, match="infinite"):
        load_csv(write(tmp_path / "g.csv", "1,inf\n"))
    with pytest.raises(DataError, match="header but no data rows"):
        load_csv(write(tmp_path / "h.csv", "a,b\n"))
    with pytest.raises(DataError, match="empty"):
        load_csv(write(tmp_path / "i.csv", ""))
    with pytest.raises(DataError, match="not found"):
        load_csv(tmp_path / "missing.csv")
    bad = np.ones((3, 2))
    bad[1, 1] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(DataError, match="row 1 column 1"):
        load_table(tmp_path / "bad.npy")


def test_npy_tables_and_standardisation_with_a_way_back(tmp_path):
    x = correlated_table()
    np.save(tmp_path / "t.npy", x)
    np.save(tmp_path / "images.npy", np.zeros((3, 4, 4)))
    assert is_table_file(tmp_path / "t.npy") and not is_table_file(tmp_path / "images.npy")
    values, _ = load_table(tmp_path / "t.npy")
    np.testing.assert_allclose(values, x.astype("float32"))
    data = load_user_table(tmp_path / "t.npy", validation_fraction=0.25, standardize=True, seed=0)
    train, test = data["train"][0], data["test"][0]
    assert train.shape == (300, 6) and test.shape == (100, 6)
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(train.std(axis=0), 1, atol=1e-4)
    scaler = data["standardizer"]
    restored = scaler.inverse_transform(np.concatenate([train, test]))
    np.testing.assert_allclose(np.sort(restored, axis=0), np.sort(x, axis=0), rtol=1e-4, atol=1e-3)
    assert Standardizer(**scaler.get_config()).transform(x[:2]).shape == (2, 6)


@pytest.mark.slow(reason="trains through the command line")
def test_mlp_gaussian_vae_on_a_csv_table_via_the_cli(tmp_path, capsys):
    x = correlated_table()
    path = tmp_path / "table.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([f"feature_{j}" for j in range(6)])
        writer.writerows(x.tolist())
    out = tmp_path / "run"
    args = ["train", "--data", str(path), "--likelihood", "gaussian", "--architecture", "mlp", "--out", str(out)]
    assert main(args + FAST) == 0, capsys.readouterr().err
    # No image figures for flat data; the model, history and metrics are written.
    assert sorted(os.listdir(out)) == ["history.csv", "metrics.json", "model.keras", "tensorboard"]
    model = keras.models.load_model(out / "model.keras")
    assert model.data_shape == (6,) and model.latent_dim == 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["num_examples"] == 40 and np.isfinite(metrics["test"]["elbo"])
    assert model.sample(3, seed=0).shape == (3, 6)

    # Conv on flat rows and Bernoulli on unbounded features: clear errors, nothing written.
    for extra, message in (
        (["--likelihood", "gaussian", "--architecture", "conv"], "conv architecture needs images"),
        (["--likelihood", "bernoulli"], "use --likelihood gaussian for unbounded features"),
    ):
        bad_out = tmp_path / f"bad{len(extra)}"
        assert main(["train", "--data", str(path), "--out", str(bad_out)] + extra + FAST) == 2
        assert message in capsys.readouterr().err
        assert not (bad_out / "model.keras").exists()


@pytest.mark.slow(reason="trains through the command line")
def test_autoencoder_on_a_npy_table_via_the_cli(tmp_path, capsys):
    np.save(tmp_path / "t.npy", correlated_table(200).astype("float32"))
    out = tmp_path / "ae"
    args = ["train", "--data", str(tmp_path / "t.npy"), "--likelihood", "gaussian", "--model", "ae", "--out", str(out)]
    assert main(args + FAST) == 0, capsys.readouterr().err
    assert "Test loss" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["test"]) >= {"loss", "reconstruction"} and "elbo" not in metrics["test"]
    assert type(keras.models.load_model(out / "model.keras")).__name__ == "Autoencoder"
