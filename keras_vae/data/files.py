"""Load the user's own images: a folder of PNG/JPEG files or a .npy/.npz array file."""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from keras_vae.data.validation import DataError, validate_images

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
ARRAY_EXTENSIONS = (".npy", ".npz")

_GREY_MODES = {"1", "L", "LA", "I;16", "I;16L", "I;16B", "I;16N"}
_COLOUR_MODES = {"RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV", "P", "PA"}
# Errors PIL and numpy raise for unreadable, truncated or hostile files.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)
_ARRAY_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def _visible(p: Path) -> bool:
    # Hidden entries (.DS_Store, .ipynb_checkpoints, ...) are editor/OS litter, not data.
    return not p.name.startswith(".")


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and _visible(p) and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def _is_grey(im: Image.Image) -> bool:
    if im.mode in _GREY_MODES:
        return True
    if im.mode in ("P", "PA"):
        # A palette of grey entries is a grey image stored compactly.
        pal = im.getpalette() or []
        return all(pal[i] == pal[i + 1] == pal[i + 2] for i in range(0, len(pal) - 2, 3))
    return False


def _decode(im: Image.Image, grey: bool) -> np.ndarray:
    if im.mode.startswith("I;16"):
        # PIL's convert("L") clips 16-bit values at 255 instead of scaling them.
        wide = np.asarray(im).astype(np.uint32)
        arr = ((wide * 255 + 32767) // 65535).astype(np.uint8)
        return arr[..., None] if grey else np.repeat(arr[..., None], 3, axis=-1)
    arr = np.asarray(im.convert("L" if grey else "RGB"))
    return arr[..., None] if grey else arr


def load_image_folder(path):
    """Load every PNG/JPEG image of a folder into one uint8 array.

    If the folder has subfolders, each subfolder is one class: class names are the
    sorted subfolder names and labels are their indices 0..K-1. Otherwise the folder's
    own images are loaded without labels. Files are read in sorted order, so results
    are deterministic. Grey images give C=1; if any image is colour, all become RGB
    (C=3); alpha channels are dropped. EXIF orientation is not applied. Hidden files
    and files with other extensions are ignored.

    Args:
        path (str | os.PathLike): the folder.

    Returns:
        tuple: (images uint8 array (N, H, W, C), labels int64 array (N,) or None,
        class_names list of str or None).

    Raises:
        DataError: folder missing, no images, a file that cannot be decoded,
            images of different sizes, an unsupported image mode.

    Example:
        >>> import os, tempfile
        >>> root = tempfile.mkdtemp()
        >>> for name in ("boot", "sandal"):
        ...     os.makedirs(os.path.join(root, name))
        ...     Image.new("RGB", (64, 48)).save(os.path.join(root, name, "0.png"))
        >>> images, labels, class_names = load_image_folder(root)
        >>> images.shape, labels.tolist(), class_names
        ((2, 48, 64, 3), [0, 1], ['boot', 'sandal'])
    """
    folder = Path(path)
    if not folder.exists():
        raise DataError(f"image folder not found: {folder}; check the path.")
    if not folder.is_dir():
        raise DataError(
            f"{folder} is not a folder; pass a folder of images or a .npy/.npz file."
        )

    accepted = ", ".join(IMAGE_EXTENSIONS)
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p))
    top_files = _image_files(folder)
    if class_dirs:
        if top_files:
            raise DataError(
                f"{folder} has both class subfolders and images at its top level "
                f"(e.g. {top_files[0].name}); move those images into a class subfolder "
                "or remove the subfolders."
            )
        files, labels = [], []
        for label, class_dir in enumerate(class_dirs):
            class_files = _image_files(class_dir)
            if not class_files:
                raise DataError(
                    f"class folder {class_dir} has no images (accepted extensions: "
                    f"{accepted}); add images or remove the folder."
                )
            files += class_files
            labels += [label] * len(class_files)
        class_names = [d.name for d in class_dirs]
        label_array = np.asarray(labels, dtype=np.int64)
    else:
        files, class_names, label_array = top_files, None, None
    if not files:
        raise DataError(
            f"no images found in {folder}; accepted extensions are {accepted} "
            "(case-insensitive)."
        )

    # First pass reads only headers: size and mode problems are reported before any
    # pixel data is decoded, and the output can be allocated once.
    first_size = None
    any_colour = False
    for f in files:
        try:
            with Image.open(f) as im:
                size, mode = im.size, im.mode
                grey = _is_grey(im)
        except _DECODE_ERRORS as err:
            raise DataError(f"cannot decode image file {f}: {err}; fix or remove it.") from err
        if not grey and mode not in _COLOUR_MODES:
            raise DataError(
                f"image file {f} has unsupported mode {mode!r}; save it as 8-bit grey or RGB."
            )
        any_colour = any_colour or not grey
        if first_size is None:
            first_size, first_file = size, f
        elif size != first_size:
            raise DataError(
                f"images have mixed sizes: {first_file} is {first_size[0]}x{first_size[1]} "
                f"but {f} is {size[0]}x{size[1]} (width x height); all images must share "
                "one size, so resize them first."
            )

    width, height = first_size
    channels = 3 if any_colour else 1
    out = np.empty((len(files), height, width, channels), dtype=np.uint8)
    for i, f in enumerate(files):
        try:
            with Image.open(f) as im:
                out[i] = _decode(im, grey=not any_colour)
        except _DECODE_ERRORS as err:
            raise DataError(f"cannot decode image file {f}: {err}; fix or remove it.") from err
    return out, label_array, class_names


def _load_npy_or_npz_member(loader, path: Path):
    try:
        return loader()
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise DataError(
                f"{path} holds a pickled/object array; pickled/object arrays are not "
                "loaded for safety (they can run code). Save a numeric array instead, "
                "e.g. np.save(path, images.astype(np.uint8))."
            ) from err
        raise DataError(f"cannot read {path}: corrupt or truncated file ({err}).") from err
    except _ARRAY_ERRORS as err:
        raise DataError(f"cannot read {path}: corrupt or truncated file ({err}).") from err


def load_array_file(path):
    """Load images (and labels, if stored) from a .npy or .npz file.

    A .npy file holds the images only. In a .npz file the images are the array named
    `images` or `x` (or the only array, if there is exactly one) and labels are the
    array named `labels` or `y`, if present. Pickled/object arrays are never loaded.
    Images are returned unconverted; see `validate_images`.

    Args:
        path (str | os.PathLike): a .npy or .npz file.

    Returns:
        tuple: (images np.ndarray, labels int64 np.ndarray (N,) or None).

    Raises:
        DataError: missing, corrupt or truncated file, object arrays, no images array,
            labels that are not one integer per image.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "faces.npz")
        >>> np.savez(path, images=np.zeros((5, 8, 8), np.uint8), labels=np.arange(5))
        >>> images, labels = load_array_file(path)
        >>> images.shape, labels.tolist()
        ((5, 8, 8), [0, 1, 2, 3, 4])
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"array file not found: {path}; check the path.")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        images = _load_npy_or_npz_member(lambda: np.load(path, allow_pickle=False), path)
        if not isinstance(images, np.ndarray):
            images.close()
            raise DataError(f"{path} is not a .npy array file; save it with np.save.")
        return images, None
    if suffix != ".npz":
        raise DataError(
            f"unsupported file type {path.suffix!r} for {path}; use .npy, .npz or a folder "
            f"of {', '.join(IMAGE_EXTENSIONS)} images."
        )

    archive = _load_npy_or_npz_member(lambda: np.load(path, allow_pickle=False), path)
    if isinstance(archive, np.ndarray):
        # np.load goes by content, not name: a .npy saved under .npz is still usable.
        return archive, None
    with archive:
        keys = list(archive.files)
        image_key = next((k for k in ("images", "x") if k in keys), None)
        if image_key is None and len(keys) == 1:
            image_key = keys[0]
        if image_key is None:
            raise DataError(
                f"{path} has arrays {keys} but none named 'images' or 'x'; rename the "
                "image array to 'images' (np.savez(path, images=..., labels=...))."
            )
        label_key = next((k for k in ("labels", "y") if k in keys and k != image_key), None)
        images = _load_npy_or_npz_member(lambda: archive[image_key], path)
        labels = None
        if label_key is not None:
            raw = _load_npy_or_npz_member(lambda: archive[label_key], path)
            n = len(images) if images.ndim else 0
            labels = _check_labels(raw, n, f"{path}[{label_key!r}]")
    return images, labels


def _check_labels(labels, n: int, name: str) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError(
            f"{name}: labels must be one integer per image, shape (N,), got shape "
            f"{arr.shape}; for one-hot labels pass labels.argmax(axis=1)."
        )
    if arr.shape[0] != n:
        raise DataError(f"{name}: {arr.shape[0]} labels for {n} images; they must match.")
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "biu":
        raise DataError(f"{name}: labels must be integers, got dtype {arr.dtype}.")
    return arr.astype(np.int64)


def load_user_images(path, *, validation_fraction=0.1, seed=0):
    """Load a folder of images or a .npy/.npz file and split it into train and held-out sets.

    The held-out split has round(N * validation_fraction) images, picked by a permutation
    seeded with `seed` (both splits keep the file order); it is stored under "test".

    Args:
        path (str | os.PathLike): a folder of PNG/JPEG images (subfolders = classes) or a
            .npy/.npz file (see `load_array_file`).
        validation_fraction (float, default 0.1): share of images held out, in (0, 1).
        seed (int, default 0): seed of the split permutation.

    Returns:
        dict: {"train": (images, labels), "test": (images, labels), "class_names": list
        or None}; images are float32 (n, H, W, C) in [0, 1], labels int64 (n,) or None.

    Raises:
        DataError: anything `load_image_folder`, `load_array_file` or `validate_images`
            rejects, fewer than 2 images, or a split that would be empty.
        ValueError: validation_fraction outside (0, 1).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "sketches.npy")
        >>> np.save(path, np.zeros((10, 8, 8), np.uint8))
        >>> data = load_user_images(path, validation_fraction=0.2, seed=1)
        >>> data["train"][0].shape, data["test"][0].shape
        ((8, 8, 8, 1), (2, 8, 8, 1))
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}.")
    path = Path(path)
    if path.is_dir():
        raw, labels, class_names = load_image_folder(path)
    elif path.suffix.lower() in ARRAY_EXTENSIONS:
        raw, labels = load_array_file(path)
        class_names = None
    elif not path.exists():
        raise DataError(f"data path not found: {path}; check the path.")
    else:
        raise DataError(
            f"unsupported data path {path}; pass a folder of {', '.join(IMAGE_EXTENSIONS)} "
            "images or a .npy/.npz file."
        )
    images = validate_images(raw, name=os.fspath(path))
    del raw  # The uint8 copy is no longer needed; halves peak memory for big folders.

    n = len(images)
    if n < 2:
        raise DataError(
            f"{path}: only {n} image; at least 2 are needed for a train and a held-out split."
        )
    n_test = int(round(n * validation_fraction))
    if n_test == 0 or n_test == n:
        which = "held-out" if n_test == 0 else "train"
        raise DataError(
            f"{path}: the {which} split would be empty ({n} images, validation_fraction="
            f"{validation_fraction}); add images or change validation_fraction."
        )
    perm = np.random.default_rng(seed).permutation(n)
    test_idx, train_idx = np.sort(perm[:n_test]), np.sort(perm[n_test:])

    def take(idx):
        return images[idx], (labels[idx] if labels is not None else None)

    return {"train": take(train_idx), "test": take(test_idx), "class_names": class_names}
