"""Data loading for keras_vae: TFDS image datasets, the user's own images and tables, tf.data pipelines."""

from keras_vae.data.files import load_array_file, load_image_folder, load_user_images
from keras_vae.data.labelled_subset import check_class_labels, labelled_subset
from keras_vae.data.pipeline import (
    BINARIZATIONS,
    binarize_static,
    make_dataset,
    make_epoch_dataset,
    make_semi_supervised_dataset,
)
from keras_vae.data.sprites import SPRITE_VARIANTS, generate_sprites, load_sprite_splits, load_sprites
from keras_vae.data.tables import Standardizer, is_table_file, load_csv, load_table, load_user_table
from keras_vae.data.tfds_images import load_tfds_images, prepare_offline_fashion_mnist, tfds_class_names
from keras_vae.data.validation import DataError, validate_images, validate_rows

__all__ = [
    "BINARIZATIONS",
    "SPRITE_VARIANTS",
    "DataError",
    "Standardizer",
    "binarize_static",
    "check_class_labels",
    "generate_sprites",
    "is_table_file",
    "labelled_subset",
    "load_array_file",
    "load_csv",
    "load_image_folder",
    "load_sprite_splits",
    "load_sprites",
    "load_table",
    "load_tfds_images",
    "load_user_images",
    "load_user_table",
    "make_dataset",
    "make_epoch_dataset",
    "make_semi_supervised_dataset",
    "prepare_offline_fashion_mnist",
    "tfds_class_names",
    "validate_images",
    "validate_rows",
]
