"""Axes charts: codes as scatter plots and training curves, as `matplotlib.figure.Figure`s (no pyplot)."""

import csv
import os

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from keras_vae.plotting.compute import latent_codes, project_2d


def _panels(encodings_or_models, titles):
    """(items, titles) from one item, a list of items, or a dict title -> item."""
    if isinstance(encodings_or_models, dict):
        titles = list(encodings_or_models) if titles is None else titles
        items = list(encodings_or_models.values())
    elif isinstance(encodings_or_models, (list, tuple)):
        items = list(encodings_or_models)
    else:
        items = [encodings_or_models]
    if not items:
        raise ValueError("Nothing to plot: pass a model, an array of codes, or a list of them.")
    if titles is not None and len(titles) != len(items):
        raise ValueError(f"{len(titles)} titles for {len(items)} panels.")
    if titles is None:
        titles = ["" if isinstance(item, np.ndarray) else type(item).__name__ for item in items]
    return items, titles


def plot_latent_scatter(
    encodings_or_models, images=None, labels=None, class_names=None, titles=None, max_points=5000, condition=None
):
    """Returns scatter plots of codes coloured by label, one panel per model or array.

    A model's codes are `model.embed(x, condition)` (`compute.latent_codes`): posterior
    means for a VAE, the code of an autoencoder. Latent spaces with more than two
    dimensions are projected on their first two principal components (per panel).

    Args:
        encodings_or_models: one item, a list of items, or a dict title -> item. An
            item is a NumPy array of codes (N, d) or a model of the model contract.
        images: array (N, ...) the models embed; needed unless only arrays are given.
        labels: int array (N,) or None (one colour).
        class_names: sequence of str indexed by label, or None.
        titles: sequence of str, one per item, or None (dict keys, else the model's class name).
        max_points: int, default 5000. Only the first `max_points` examples are drawn.
        condition: array (N,) or (N, dim), or None. The images' conditions, given to
            the models that take one (`model.takes_condition`) and to no other.

    Example:
    >>> fig = plot_latent_scatter({"random": np.random.default_rng(0).normal(size=(50, 3))}, labels=np.arange(50) % 2)
    >>> fig.axes[0].get_xlabel()[:3]
    'PC1'
    """
    items, titles = _panels(encodings_or_models, titles)
    if images is not None:
        images = np.asarray(images, dtype="float32")[:max_points]
    condition = None if condition is None else np.asarray(condition)[:max_points]
    encodings = []
    for item in items:
        if isinstance(item, np.ndarray):
            encodings.append(item[:max_points].astype("float32"))
            continue
        if images is None:
            raise ValueError("images are needed to embed with a model.")
        if item.takes_condition and condition is None:
            raise ValueError(f"{type(item).__name__} takes a condition: pass the images' `condition`.")
        encodings.append(latent_codes(item, images, condition if item.takes_condition else None))
    n = len(encodings[0])
    if any(len(e) != n for e in encodings):
        raise ValueError(f"The panels have different numbers of examples: {[len(e) for e in encodings]}.")
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)[:max_points]
        if len(labels) != n:
            raise ValueError(f"{len(labels)} labels for {n} encoded examples.")
    fig = Figure(figsize=(3.6 * len(items) + 1.3, 3.6))
    axes = fig.subplots(1, len(items), squeeze=False)[0]
    classes = np.unique(labels) if labels is not None else []
    cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
    for ax, z, title in zip(axes, encodings, titles):
        xy, names = project_2d(z)
        if labels is None:
            ax.scatter(xy[:, 0], xy[:, 1], s=3, alpha=0.6, linewidths=0, color="tab:blue")
        for k, label in enumerate(classes):
            mask = labels == label
            known = class_names is not None and 0 <= int(label) < len(class_names)
            name = class_names[int(label)] if known else str(label)
            ax.scatter(xy[mask, 0], xy[mask, 1], s=3, alpha=0.6, linewidths=0, color=cmap(k % cmap.N), label=name)
        ax.set_xlabel(names[0], fontsize=7)
        ax.set_ylabel(names[1], fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_title(f"{title} ({z.shape[1]}-d)".strip(), fontsize=8)
    if labels is not None:
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="center right", fontsize=6, markerscale=3, frameon=False)
    width = fig.get_figwidth()
    fig.subplots_adjust(left=0.8 / width, right=1 - 1.3 / width, bottom=0.15, top=0.83, wspace=0.3)
    fig.suptitle(f"Codes of {n} examples", fontsize=9)
    return fig


CURVES = (
    ("elbo", "ELBO"),
    ("labelled_bound", "labelled bound L(x, y)"),
    ("unlabelled_bound", "unlabelled bound U(x)"),
    ("reconstruction", "reconstruction log p(x|z)"),
    ("kl", "KL(q(z|x) || p(z))"),
    ("accuracy", "classifier accuracy (labelled)"),
    ("bits_per_dim", "exact NLL (bits/dim)"),  # kinds with an exact likelihood (flows)
)


def read_history(path):
    """Returns history.csv (keras.callbacks.CSVLogger) as a dict column -> list of floats.

    Non-numeric columns are dropped; empty cells become NaN.
    """
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path} has no epochs.")
    history = {}
    for key in rows[0]:
        try:
            history[key] = [float(row[key]) if row[key] not in ("", None) else float("nan") for row in rows]
        except ValueError:
            continue  # a non-numeric column
    return history


def plot_training_curves(history):
    """Returns ELBO, reconstruction and KL (nats per example) against epoch; val_ curves dashed.

    Args:
        history: path of a `history.csv` written by `keras.callbacks.CSVLogger`, or a
            dict of lists (`model.fit(...).history`). A "beta" column adds a fourth panel.

    Example:
    >>> fig = plot_training_curves({"elbo": [-3.0, -2.0], "val_elbo": [-3.5, -2.5]})
    >>> [ax.get_title() for ax in fig.axes]
    ['ELBO']
    """
    if isinstance(history, (str, os.PathLike)):
        history = read_history(history)
    history = {k: list(map(float, v)) for k, v in dict(history).items()}
    panels = [(key, name) for key, name in CURVES if key in history or f"val_{key}" in history]
    if not panels:
        raise ValueError(f"The history has none of the columns {[k for k, _ in CURVES]}; it has {sorted(history)}.")
    if "beta" in history:
        panels.append(("beta", "beta (KL weight)"))
    length = max(len(history.get(k, history.get(f"val_{k}", []))) for k, _ in panels)
    epochs = np.asarray(history["epoch"]) + 1 if "epoch" in history else np.arange(1, length + 1)
    fig = Figure(figsize=(3.0 * len(panels), 2.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (key, name) in zip(axes, panels):
        for prefix, style, label in (("", "-", "train"), ("val_", "--", "test")):
            if prefix + key in history:
                values = history[prefix + key]
                ax.plot(epochs[: len(values)], values, style, marker="." if len(values) < 30 else None, label=label)
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("epoch", fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
        if key != "beta":
            ax.legend(fontsize=6)
    axes[0].set_ylabel("bits per dimension" if panels[0][0] == "bits_per_dim" else "nats per example", fontsize=7)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(confusion, class_names=None, title="Confusion matrix (test)"):
    """Returns a confusion matrix as a heat map with counts: rows true classes, columns predictions.

    Args:
        confusion: int array (K, K); confusion[i, j] counts class i predicted as j
            (`keras_vae.evaluation.classification_summary`).
        class_names: sequence of K str or None (the class ids).
        title: str.

    Example:
    >>> fig = plot_confusion_matrix(np.array([[3, 1], [0, 4]]))
    >>> fig.axes[0].get_xlabel()
    'predicted class'
    """
    confusion = np.asarray(confusion)
    k = confusion.shape[0]
    if confusion.shape != (k, k):
        raise ValueError(f"A confusion matrix must be square (K, K), got shape {confusion.shape}.")
    names = list(class_names) if class_names is not None else [str(c) for c in range(k)]
    fig = Figure(figsize=(1.2 + 0.45 * k, 1.0 + 0.45 * k))
    ax = fig.subplots()
    ax.imshow(confusion, cmap="Blues")
    threshold = confusion.max() / 2 if confusion.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(int(confusion[i, j])), ha="center", va="center", fontsize=6,
                    color="white" if confusion[i, j] > threshold else "black")
    ax.set_xticks(range(k), names, rotation=90, fontsize=6)
    ax.set_yticks(range(k), names, fontsize=6)
    ax.set_xlabel("predicted class", fontsize=7)
    ax.set_ylabel("true class", fontsize=7)
    accuracy = np.trace(confusion) / max(confusion.sum(), 1)
    ax.set_title(f"{title}: accuracy {accuracy:.3f}", fontsize=8)
    fig.tight_layout()
    return fig


def plot_factor_mutual_information(matrix, factor_names, unit_order=None, title=None):
    """Returns a heat map of the mutual information between latent units and factors, (K, D) cells.

    Args:
        matrix: array (D, K), e.g. `disentanglement.mutual_information_matrix` divided by each
            factor's entropy (then each cell is the share of the factor's information in the unit).
        factor_names: K str, the rows.
        unit_order: sequence of int or None, default None. The units' column order (e.g. by KL).
        title: str or None, default None.

    Example:
    >>> fig = plot_factor_mutual_information(np.eye(3)[:, :2], ["a", "b"])
    >>> fig.axes[0].get_ylabel()
    'factor'
    """
    matrix = np.asarray(matrix, dtype=float)
    order = list(range(matrix.shape[0])) if unit_order is None else [int(d) for d in unit_order]
    cells = matrix[order].T  # factors down, units across
    fig = Figure(figsize=(1.2 + 0.45 * len(order), 1.0 + 0.4 * len(factor_names)), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(cells, cmap="viridis", vmin=0.0, vmax=max(1.0, float(cells.max())), aspect="auto")
    ax.set_xticks(range(len(order)), [f"z[{d}]" for d in order], rotation=90)
    ax.set_yticks(range(len(factor_names)), list(factor_names))
    ax.set_xlabel("latent unit")
    ax.set_ylabel("factor")
    for (row, col), value in np.ndenumerate(cells):
        ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=6, color="white" if value < 0.5 else "black")
    ax.set_title(title or "I(unit; factor) / H(factor)", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig
