"""Figures of images and latent spaces: computed as arrays, drawn as `matplotlib.figure.Figure`s.

    compute.py   what the figures show, as NumPy arrays, from the model contract only
                 (codes, decoded grids, interpolations, attribute vectors, traversals, class samples)
    tiles.py     image batches tiled into one array (also used by `keras_vae.image_logging`)
    figures.py   image-grid figures: `image_grid` (the one grid builder) and the `plot_*` of images
    charts.py    `plot_latent_scatter`, `plot_training_curves`, `plot_confusion_matrix`
    png.py       `figure_png`, `save_figure` (the one PNG writer)

No pyplot and no backend switch: figures are written with `save_figure` (or shown in
Jupyter after `%matplotlib inline`).

Example:
>>> from keras_vae.models import build_vae
>>> fig = plot_samples(build_vae((8, 8, 1), latent_dim=2), n=8, seed=0)
>>> type(fig).__name__
'Figure'
"""

from keras_vae.plotting.charts import (
    plot_confusion_matrix,
    plot_factor_mutual_information,
    plot_latent_scatter,
    plot_training_curves,
    read_history,
)
from keras_vae.plotting.compute import (
    class_analogies,
    attribute_arithmetic,
    attribute_vector,
    class_samples,
    decoded,
    latent_codes,
    latent_interpolation,
    latent_manifold,
    latent_traversals,
    manifold_points,
    project_2d,
    quantile_grid,
    reconstructions,
    unit_kl,
)
from keras_vae.plotting.figures import (
    image_grid,
    plot_attribute_arithmetic,
    plot_class_analogies,
    plot_class_samples,
    plot_interpolation,
    plot_kl_sorted_traversals,
    plot_latent_manifold,
    plot_latent_traversals,
    plot_reconstructions,
    plot_samples,
    SAMPLE_TEMPERATURES,
)
from keras_vae.plotting.png import figure_png, save_figure
from keras_vae.plotting.tiles import interleave_rows, tile_images

__all__ = [
    "attribute_arithmetic",
    "attribute_vector",
    "class_analogies",
    "class_samples",
    "decoded",
    "figure_png",
    "image_grid",
    "interleave_rows",
    "latent_codes",
    "latent_interpolation",
    "latent_manifold",
    "latent_traversals",
    "manifold_points",
    "plot_attribute_arithmetic",
    "plot_class_analogies",
    "plot_class_samples",
    "plot_confusion_matrix",
    "plot_factor_mutual_information",
    "plot_interpolation",
    "plot_kl_sorted_traversals",
    "plot_latent_manifold",
    "plot_latent_scatter",
    "plot_latent_traversals",
    "plot_reconstructions",
    "plot_samples",
    "SAMPLE_TEMPERATURES",
    "plot_training_curves",
    "project_2d",
    "quantile_grid",
    "read_history",
    "reconstructions",
    "save_figure",
    "tile_images",
    "unit_kl",
]
