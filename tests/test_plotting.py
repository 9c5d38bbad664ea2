"""Figures of latent spaces, the ImageLogger callback, and the `plot` / `sample` commands."""

import argparse
import csv
import glob
import io
import json
import os
import statistics

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_vae import plotting
from keras_vae.commands import plot as plot_command
from keras_vae.commands import sample as sample_command
from keras_vae.image_logging import ImageLogger
from keras_vae.models import build_vae

TILE = 28 + 1  # tile pitch in pixels of tile_images (padding 1)


@pytest.fixture(scope="module")
def fashion(fashion_mnist_data_dir):
    from keras_vae.data import load_tfds_images

    images, labels = load_tfds_images("fashion_mnist", "test[:600]", data_dir=fashion_mnist_data_dir)
    return images, labels


@pytest.fixture(scope="module")
def trained(fashion):
    """A 2-D VAE trained for a few steps on 600 Fashion-MNIST images."""
    images, _ = fashion
    keras.utils.set_random_seed(0)
    model = build_vae((28, 28, 1), latent_dim=2, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), jit_compile=False)
    model.fit(images, epochs=2, batch_size=100, verbose=0)
    return model


def grid_of(fig, axes_index=0):
    """The pixel array the figure shows (the tiled grid given to imshow)."""
    return np.asarray(fig.axes[axes_index].images[0].get_array())


def tile(grid, row, col, size=28):
    return grid[row * (size + 1) : row * (size + 1) + size, col * (size + 1) : col * (size + 1) + size]


def png_size(path):
    with Image.open(path) as image:
        image.load()
        assert image.format == "PNG"
        return image.size


def saved_size(fig, tmp_path, name="fig.png"):
    expected = tuple(int(round(v * 100)) for v in fig.get_size_inches())
    path = plotting.save_figure(fig, os.path.join(tmp_path, name))
    assert png_size(path) == expected
    return expected


def decoded(model, z):
    return np.clip(np.asarray(model.decode(np.asarray(z, "float32"))), 0, 1)[..., 0]


def test_manifold_tiles_are_the_decoded_quantile_grid(trained, tmp_path):
    n = 7
    fig = plotting.plot_latent_manifold(trained, n=n, quantile_range=(0.05, 0.95))
    manifold = plotting.latent_manifold(trained, n=n, quantile_range=(0.05, 0.95))
    grid = grid_of(fig)
    assert grid.shape == (n * TILE - 1, n * TILE - 1)
    values = np.array([statistics.NormalDist().inv_cdf(q) for q in np.linspace(0.05, 0.95, n)])
    np.testing.assert_allclose(manifold.values, values, rtol=1e-6)
    for row, col in [(0, 0), (0, n - 1), (3, 2), (n - 1, 0), (n - 1, n - 1)]:
        # Columns run along z[0] left to right, rows along z[1] top (high) to bottom (low).
        z = [[values[col], values[n - 1 - row]]]
        np.testing.assert_allclose(tile(grid, row, col), decoded(trained, z)[0], atol=1e-5)
    np.testing.assert_allclose(
        manifold.points[3 * n + 2], [values[2], values[n - 1 - 3]], rtol=1e-6
    )
    # Tick labels carry the z values; the figure is 0.5 in per tile plus fixed margins.
    assert fig.axes[0].get_xticklabels()[0].get_text() == f"{values[0]:.2f}"
    assert saved_size(fig, tmp_path) == (int(n * 50 + 75), int(n * 50 + 45 + 30))


def test_manifold_other_dims_are_zero_and_bad_arguments_fail():
    model = build_vae((8, 8, 1), latent_dim=4, seed=0)
    fig = plotting.plot_latent_manifold(model, n=3, dims=(2, 0))
    points = plotting.latent_manifold(model, n=3, dims=(2, 0)).points
    assert points.shape == (9, 4) and np.all(points[:, [1, 3]] == 0)
    np.testing.assert_allclose(grid_of(fig)[:8, :8], decoded(model, points[:1])[0], atol=1e-5)
    with pytest.raises(ValueError, match="quantile_range"):
        plotting.quantile_grid(5, (0.0, 0.9))
    with pytest.raises(ValueError, match="dims"):
        plotting.plot_latent_manifold(model, dims=(0, 4))


class PixelCode:
    """A model-contract double whose code is its input's first 6 pixels (like an autoencoder's)."""

    takes_condition = False

    def embed(self, x, condition=None):
        assert condition is None  # the contract: no condition for an unconditional model
        return np.asarray(x).reshape(len(x), -1)[:, :6]


def test_latent_scatter_panels_and_pca(trained, fashion, tmp_path):
    images, labels = fashion
    encodings = np.random.default_rng(0).normal(size=(len(images), 5))
    names = [f"class {i}" for i in range(10)]
    fig = plotting.plot_latent_scatter(
        [trained, encodings, PixelCode()], images, labels, class_names=names, titles=["VAE", "random", "AE"]
    )
    panels = [ax for ax in fig.axes if ax.collections]
    assert len(panels) == 3
    assert panels[0].get_title() == "VAE (2-d)" and panels[0].get_xlabel() == "z[0]"
    assert panels[1].get_xlabel().startswith("PC1")
    assert sum(len(c.get_offsets()) for c in panels[0].collections) == len(images)
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == [names[i] for i in np.unique(labels)]
    # The 2-D panel shows z_mean itself.
    z_mean = np.asarray(trained.encode(images)[0])
    shown = np.concatenate([c.get_offsets() for c in panels[0].collections])
    expected = np.concatenate([z_mean[labels == k] for k in np.unique(labels)])
    np.testing.assert_allclose(shown, expected, rtol=1e-5, atol=1e-5)
    saved_size(fig, tmp_path)


def test_pca_keeps_a_plane_isometric():
    rng = np.random.default_rng(1)
    plane = rng.normal(size=(50, 2)) * [3.0, 1.0]
    basis, _ = np.linalg.qr(rng.normal(size=(6, 2)))
    xy, names = plotting.project_2d(plane @ basis.T + 5.0)
    distances = lambda a: np.linalg.norm(a[:, None] - a[None], axis=-1)  # noqa: E731
    np.testing.assert_allclose(distances(xy), distances(plane), atol=1e-8)
    # The plane is all the variance: its two principal axes share it as the plane's own singular values do.
    singular = np.linalg.svd(plane - plane.mean(axis=0), compute_uv=False)
    share = singular**2 / np.sum(singular**2)
    assert names == [f"PC1 of z ({share[0]:.0%} of variance)", f"PC2 of z ({share[1]:.0%} of variance)"]
    assert share[0] > 0.8  # the 3:1 scales make PC1 the long axis, about 90 % of the variance


def test_interpolation_rows_and_endpoints(trained, fashion, tmp_path):
    images, _ = fashion
    fig = plotting.plot_interpolation(trained, images[:3], images[3:6], steps=6)
    grid = grid_of(fig)
    assert grid.shape == (3 * TILE - 1, 8 * TILE - 1)
    z_a, z_b = np.asarray(trained.encode(images[:3])[0]), np.asarray(trained.encode(images[3:6])[0])
    np.testing.assert_allclose(tile(grid, 0, 0), images[0, ..., 0], atol=1e-6)  # input A
    np.testing.assert_allclose(tile(grid, 2, 7), images[5, ..., 0], atol=1e-6)  # input B
    np.testing.assert_allclose(tile(grid, 1, 1), decoded(trained, z_a[1:2])[0], atol=1e-5)  # t = 0
    np.testing.assert_allclose(tile(grid, 1, 6), decoded(trained, z_b[1:2])[0], atol=1e-5)  # t = 1
    midpoint = z_a[2:3] + 0.4 * (z_b[2:3] - z_a[2:3])  # t = 2/5
    np.testing.assert_allclose(tile(grid, 2, 3), decoded(trained, midpoint)[0], atol=1e-5)
    assert saved_size(fig, tmp_path) == (8 * 50, 3 * 50 + 45 + 30)
    one = plotting.plot_interpolation(trained, images[0], images[1], steps=4, show_inputs=False)
    assert grid_of(one).shape == (28, 4 * TILE - 1)


def test_attribute_arithmetic_adds_the_class_vector(trained, fashion, tmp_path):
    images, labels = fashion
    scales = (0, 1, 2)
    fig = plotting.plot_attribute_arithmetic(trained, images, labels, 5, images[:2], scales=scales)
    z = np.asarray(trained.encode(images)[0])
    vector = z[labels == 5].mean(axis=0) - z[labels != 5].mean(axis=0)
    np.testing.assert_allclose(plotting.attribute_vector(trained, images, labels, 5), vector, rtol=1e-4, atol=1e-5)
    grid = grid_of(fig)
    assert grid.shape == (2 * TILE - 1, 4 * TILE - 1)
    np.testing.assert_allclose(tile(grid, 1, 0), images[1, ..., 0], atol=1e-6)
    np.testing.assert_allclose(tile(grid, 1, 3), decoded(trained, z[1:2] + 2 * vector)[0], atol=1e-4)
    saved_size(fig, tmp_path)
    with pytest.raises(ValueError, match="with and without class 42"):
        plotting.plot_attribute_arithmetic(trained, images, labels, 42, images[:2])


def test_latent_traversals_vary_one_dimension(tmp_path):
    model = build_vae((8, 8, 1), latent_dim=12, seed=0)
    image = np.random.default_rng(0).uniform(size=(8, 8, 1)).astype("float32")
    values = np.linspace(-2, 2, 5)
    fig = plotting.plot_latent_traversals(model, image, dims=[1, 7], values=values)
    grid = grid_of(fig)
    assert grid.shape == (2 * 9 - 1, 5 * 9 - 1)
    z = np.array(model.encode(image[None])[0])
    z[0, 7] = values[4]
    np.testing.assert_allclose(tile(grid, 1, 4, size=8), decoded(model, z)[0], atol=1e-5)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["z[1]", "z[7]"]
    saved_size(fig, tmp_path)
    # Default: at most 10 rows for a 12-dimensional latent space.
    assert grid_of(plotting.plot_latent_traversals(model, image)).shape[0] == 10 * 9 - 1


def test_training_curves_from_csv_and_dict(tmp_path):
    path = tmp_path / "history.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "elbo", "kl", "loss", "reconstruction", "val_elbo", "val_kl", "val_reconstruction"])
        for epoch in range(4):
            writer.writerow([epoch, -300 + epoch, 10 + epoch, 300 - epoch, -290, -301 + epoch, 11, -290])
    fig = plotting.plot_training_curves(str(path))
    assert [ax.get_title() for ax in fig.axes] == ["ELBO", "reconstruction log p(x|z)", "KL(q(z|x) || p(z))"]
    train, test = fig.axes[0].lines
    assert train.get_xdata().tolist() == [1, 2, 3, 4] and train.get_ydata().tolist() == [-300, -299, -298, -297]
    assert test.get_linestyle() == "--"
    saved_size(fig, tmp_path)
    fig = plotting.plot_training_curves({"elbo": [-3.0, -2.0], "kl": [1.0, 1.0], "beta": [0.5, 1.0]})
    assert len(fig.axes) == 3 and len(fig.axes[0].lines) == 1
    with pytest.raises(ValueError, match="none of the columns"):
        plotting.plot_training_curves({"loss": [1.0]})


def read_image_summaries(log_dir):
    found = {}
    for path in glob.glob(os.path.join(log_dir, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor)  # [width, height, png bytes...]
                image = Image.open(io.BytesIO(tensor[2]))
                found.setdefault(value.tag, []).append((event.step, image.size))
    return found


def test_image_logger_writes_sample_and_reconstruction_grids(tmp_path):
    images = np.random.default_rng(0).uniform(size=(64, 8, 8, 1)).astype("float32")
    model = build_vae((8, 8, 1), latent_dim=2, seed=0)
    model.compile(optimizer="adam", jit_compile=False)
    logger = ImageLogger(images[:16], every_n_epochs=2, n_samples=12, seed=3, log_dir=str(tmp_path / "img"))
    model.fit(images, epochs=4, batch_size=32, verbose=0, callbacks=[logger])
    found = read_image_summaries(str(tmp_path / "img"))
    # Epochs 2 and 4 (steps 1 and 3); 12 samples in 8 columns = 2 rows; 16 inputs = 2 x (input, reconstruction) rows.
    assert found["samples"] == [(1, (8 * 9 - 1, 2 * 9 - 1)), (3, (8 * 9 - 1, 2 * 9 - 1))]
    assert found["reconstructions"] == [(1, (8 * 9 - 1, 4 * 9 - 1)), (3, (8 * 9 - 1, 4 * 9 - 1))]
    grid = logger.reconstruction_grid()[0, ..., 0]
    np.testing.assert_allclose(grid[9:17, :8], np.asarray(model.reconstruct(images[:1]))[0, ..., 0], atol=1e-5)
    with pytest.raises(ValueError, match="every_n_epochs"):
        ImageLogger(images, every_n_epochs=0)


def test_image_logger_follows_what_the_model_can_do(tmp_path):
    from keras_vae.models import build_model

    images = np.random.default_rng(0).uniform(size=(32, 8, 8, 1)).astype("float32")
    labels = np.arange(32) % 3
    # No prior (an autoencoder): reconstructions only.
    autoencoder = build_model("ae", (8, 8, 1), latent_dim=2, seed=0)
    autoencoder.compile(optimizer="adam", jit_compile=False)
    logger = ImageLogger(images, log_dir=str(tmp_path / "ae"))
    autoencoder.fit(images, epochs=1, batch_size=16, verbose=0, callbacks=[logger])
    assert set(read_image_summaries(str(tmp_path / "ae"))) == {"reconstructions"}
    # A class-conditional model: samples cycle through the classes, reconstructions use the images' labels.
    cvae = build_model("cvae", (8, 8, 1), latent_dim=2, num_classes=3, seed=0)
    cvae.compile(optimizer="adam", jit_compile=False)
    logger = ImageLogger(images[:16], n_samples=6, condition=labels[:16], log_dir=str(tmp_path / "cvae"))
    cvae.fit(images, labels, epochs=1, batch_size=16, verbose=0, callbacks=[logger])
    assert set(read_image_summaries(str(tmp_path / "cvae"))) == {"samples", "reconstructions"}
    grid = logger.reconstruction_grid()[0, ..., 0]
    expected = np.asarray(cvae.reconstruct(images[1:2], labels[1:2]))[0, ..., 0]
    np.testing.assert_allclose(grid[9:17, 9:17], expected, atol=1e-5)
    with pytest.raises(ValueError, match="condition"):
        cvae.fit(images, labels, epochs=1, verbose=0, callbacks=[ImageLogger(images, log_dir=str(tmp_path / "x"))])


@pytest.mark.slow(reason="trains models for several epochs")
def test_plotting_leaves_matplotlib_alone():
    # Importing and drawing keep the user's backend, and no figure enters pyplot's global list
    # (where unclosed figures would pile up and a notebook would show them a second time).
    import subprocess
    import sys

    code = (
        "import matplotlib; matplotlib.use('svg'); import numpy as np; from keras_vae import plotting; "
        "fig = plotting.image_grid(np.zeros((2, 4, 4)), rows=1, cols=2, title='t'); plotting.figure_png(fig); "
        "curves = plotting.plot_training_curves({'elbo': [1.0, 2.0]}); import matplotlib.pyplot as plt; "
        "print(matplotlib.get_backend(), len(plt.get_fignums()), type(fig).__module__, type(curves).__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-4:] == ["svg", "0", "matplotlib.figure", "matplotlib.figure"]


def test_image_grid_is_the_one_grid_builder(tmp_path):
    # Labels and titles add fixed margins in inches; a non-square image keeps its aspect ratio.
    images = np.random.default_rng(0).uniform(size=(6, 10, 20)).astype("float32")
    fig = plotting.image_grid(images, rows=2, cols=3, title="t", row_labels=["a", "b"], xlabel="x")
    assert fig.get_size_inches().tolist() == [3 * 0.5 + 0.75, 2 * 0.25 + 0.45 + 0.3]
    np.testing.assert_allclose(grid_of(fig)[11:21, 21:41], images[4])  # row 1, column 1
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b"]
    # The same figure gives the same bytes: no timestamp in the PNG.
    assert plotting.figure_png(fig) == plotting.figure_png(fig)
    assert open(plotting.save_figure(fig, tmp_path / "g.png"), "rb").read() == plotting.figure_png(fig)


# Commands ------------------------------------------------------------------------------


def parse(*argv):
    parser = argparse.ArgumentParser(prog="keras-vae")
    commands = parser.add_subparsers(dest="command", required=True)
    plot_command.add_parser(commands)
    sample_command.add_parser(commands)
    return parser.parse_args(list(argv))


def call(*argv):
    args = parse(*argv)
    return args.run(args)


def train_user_runs(fashion, root, kinds=("vae",), epochs=2):
    """Returns {kind: run dir} of runs trained briefly by `training.train` on the user's own .npz.

    The .npz holds 400 Fashion-MNIST images and their labels; every run has a 2-D latent space.
    """
    from keras_vae.training import TrainSettings, train

    images, labels = fashion
    data = root / "clothes.npz"
    np.savez(data, images=(images[:400, ..., 0] * 255).astype(np.uint8), labels=labels[:400])
    runs = {}
    for kind in kinds:
        runs[kind] = root / ("run" if kind == "vae" else kind)
        train(
            TrainSettings(
                data=str(data), model=kind, latent_dim=2, epochs=epochs, steps_per_epoch=3, batch_size=32,
                jit_compile=False, out=str(runs[kind]), verbose=0,
            )
        )
    return runs


def test_pairs_differ_in_class_or_share_it_for_a_conditional_model():
    labels = np.array([0, 0, 1, 1, 0, 2])
    first, second = plot_command._pairs(labels, 4, len(labels))
    assert (first.tolist(), second.tolist()) == ([0, 1, 4], [2, 3, 5])
    first, second = plot_command._pairs(labels, 4, len(labels), same_class=True)
    assert (first.tolist(), second.tolist()) == ([0, 2], [1, 3])
    first, second = plot_command._pairs(None, 2, 5)
    assert (first.tolist(), second.tolist()) == ([0, 1], [2, 3])


@pytest.fixture(scope="module")
def user_run(fashion, tmp_path_factory):
    """A VAE run trained briefly by `training.train` on the user's own .npz (Fashion-MNIST images, labels)."""
    return train_user_runs(fashion, tmp_path_factory.mktemp("user_run"))["vae"]


FIGURES_2D = {
    "samples.png", "reconstructions.png", "manifold.png", "latent_scatter.png", "interpolation.png",
    "attribute_arithmetic.png", "training_curves.png",
}


def test_plot_command_writes_every_figure(user_run, capsys):
    assert call("plot", str(user_run)) == 0
    figures = user_run / "figures"
    assert set(os.listdir(figures)) == FIGURES_2D
    for name in FIGURES_2D:
        width, height = png_size(figures / name)
        assert width > 100 and height > 100
    assert "Wrote 7 figures" in capsys.readouterr().out


def test_plot_command_on_tfds_run_without_history(user_run, fashion_mnist_data_dir, tmp_path, capsys):
    # A 3-D model on the run's TFDS dataset: traversals instead of the manifold, no curves.
    run = tmp_path / "run"
    run.mkdir()
    build_vae((28, 28, 1), latent_dim=3, seed=0).save(run / "model.keras")
    settings = json.loads((user_run / "metrics.json").read_text())["settings"]
    settings.update(data=None, dataset="fashion_mnist", data_dir=str(fashion_mnist_data_dir), binarize="none")
    (run / "metrics.json").write_text(json.dumps({"settings": settings}))
    assert call("plot", str(run), "--out", str(tmp_path / "figs"), "--max-examples", "200") == 0
    assert set(os.listdir(tmp_path / "figs")) == FIGURES_2D - {"manifold.png", "training_curves.png"} | {
        "traversals.png"
    }


def test_sample_command_is_reproducible(user_run, tmp_path, capsys):
    paths = [tmp_path / f"{name}.png" for name in ("a", "b", "c")]
    assert call("sample", str(user_run), "--n", "16", "--seed", "7", "--out", str(paths[0])) == 0
    assert call("sample", str(user_run), "--n", "16", "--seed", "7", "--out", str(paths[1])) == 0
    assert call("sample", str(user_run), "--n", "16", "--seed", "8", "--out", str(paths[2])) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()
    assert png_size(paths[0]) == (8 * 50, 2 * 50 + 30)
    assert call("sample", str(user_run), "--seed", "1") == 0
    assert png_size(user_run / "samples-seed1.png") == (400, 430)


def test_commands_fail_clearly(user_run, tmp_path, capsys):
    assert call("sample", str(user_run), "--label", "3", "--out", str(tmp_path / "x.png")) == 2
    assert "this model is not conditional" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
    assert call("sample", str(tmp_path / "missing")) == 2
    error = capsys.readouterr().err
    assert "run directory" in error and "not found" in error
    assert call("plot", str(tmp_path)) == 2
    assert "model.keras not found" in capsys.readouterr().err
    assert call("sample", str(user_run), "--out", str(tmp_path / "x.jpg")) == 2
    assert ".png" in capsys.readouterr().err
    assert call("sample", str(user_run), "--out", str(tmp_path / "no" / "x.png")) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse("sample", str(user_run), "--n", "0")


# Model kinds: cvae, ae, dae ------------------------------------------------------------


@pytest.fixture(scope="module")
def kind_runs(fashion, tmp_path_factory):
    """Runs of each other model kind (cvae, ae, dae), one epoch of 3 steps each."""
    return train_user_runs(fashion, tmp_path_factory.mktemp("kind_runs"), kinds=("cvae", "ae", "dae"), epochs=1)


def test_plot_command_writes_the_figures_of_each_model_kind(kind_runs, tmp_path, capsys):
    # No prior for autoencoders: no samples, manifold or traversals.
    autoencoder_figures = FIGURES_2D - {"samples.png", "manifold.png"}
    for kind, expected in {
        # A conditional model: traversals and same-class interpolations under the images' own labels,
        # no manifold and no attribute arithmetic (see keras_vae.commands.plot).
        "cvae": {
            "class_samples.png", "analogies.png", "reconstructions.png", "traversals.png", "latent_scatter.png",
            "interpolation.png", "training_curves.png",
        },
        "ae": autoencoder_figures,
        "dae": autoencoder_figures,
    }.items():
        out = tmp_path / kind
        assert call("plot", str(kind_runs[kind]), "--out", str(out)) == 0, capsys.readouterr().err
        assert set(os.listdir(out)) == expected, kind
        assert f"Wrote {len(expected)} figures" in capsys.readouterr().out


def test_sample_command_on_a_conditional_run(kind_runs, tmp_path, capsys):
    run = str(kind_runs["cvae"])
    paths = [tmp_path / f"{name}.png" for name in ("a", "b", "c", "d")]
    # Without --label: one row per class (10 in the data), ceil(20 / 10) = 2 columns.
    assert call("sample", run, "--n", "20", "--seed", "3", "--out", str(paths[0])) == 0
    assert "10 classes x 2 samples" in capsys.readouterr().out
    assert call("sample", run, "--n", "20", "--seed", "3", "--out", str(paths[1])) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert call("sample", run, "--n", "16", "--seed", "3", "--label", "4", "--out", str(paths[2])) == 0
    assert call("sample", run, "--n", "16", "--seed", "3", "--label", "4", "--out", str(paths[3])) == 0
    assert paths[2].read_bytes() == paths[3].read_bytes() != paths[0].read_bytes()
    assert png_size(paths[2]) == (8 * 50, 2 * 50 + 30)
    capsys.readouterr()
    for label in ("10", "-1"):
        assert call("sample", run, "--label", label, "--out", str(tmp_path / "x.png")) == 2
        assert "out of range" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_class_samples_share_z_down_each_column(kind_runs):
    from keras_vae.runs import Run

    model = Run(str(kind_runs["cvae"])).load_model()
    fig = plotting.plot_class_samples(model, per_class=3, seed=5)
    images = plotting.class_samples(model, per_class=3, seed=5)
    assert images.shape == (10, 3, 28, 28, 1)
    np.testing.assert_allclose(images[4], np.asarray(model.sample(3, seed=5, condition=4)), atol=1e-6)
    assert not np.allclose(images[0], images[9])  # the class changes the image
    np.testing.assert_allclose(tile(grid_of(fig), 4, 2), np.clip(images[4, 2, ..., 0], 0, 1), atol=1e-6)
    with pytest.raises(ValueError, match="conditional"):
        plotting.plot_class_samples(build_vae((28, 28, 1), latent_dim=2))


def test_sample_command_refuses_an_autoencoder_run(kind_runs, tmp_path, capsys):
    assert call("sample", str(kind_runs["ae"]), "--out", str(tmp_path / "x.png")) == 2
    assert "no prior to sample from" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
