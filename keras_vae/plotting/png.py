"""The one PNG writer: a `matplotlib.figure.Figure` to reproducible PNG bytes, or to a file atomically."""

import io

from keras_vae import atomic


def figure_png(fig, dpi=100):
    """Returns `fig` as PNG bytes with no timestamp or version metadata.

    Without a "Software" entry the same figure gives the same bytes under any
    matplotlib version, so a seeded figure is byte-for-byte reproducible.

    Args:
        fig: matplotlib.figure.Figure.
        dpi: float, default 100. Pixels per inch.

    Example:
    >>> from matplotlib.figure import Figure
    >>> figure_png(Figure(figsize=(1, 1)), dpi=50)[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format="png", metadata={"Software": None})
    return buffer.getvalue()


def save_figure(fig, path, dpi=100):
    """Writes `fig` as a PNG (`figure_png`) to `path` atomically and returns `path`.

    Args:
        fig: matplotlib.figure.Figure.
        path: str or path-like. The file, written whole or not at all.
        dpi: float, default 100. Pixels per inch.

    Example:
    >>> import os, tempfile
    >>> from matplotlib.figure import Figure
    >>> path = save_figure(Figure(figsize=(2, 1)), os.path.join(tempfile.mkdtemp(), "f.png"))
    >>> os.path.getsize(path) > 0
    True
    """
    atomic.write_bytes(path, figure_png(fig, dpi=dpi))
    return path
