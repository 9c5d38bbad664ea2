"""Checks that turn user image arrays into float32 batches in [0, 1]."""

from __future__ import annotations

import numpy as np


class DataError(ValueError):
    """Bad input data; the message names the problem and how to fix it.

    Subclasses ValueError so callers that already catch ValueError keep working.

    Example:
        >>> try:
        ...     validate_images(np.zeros((0, 28, 28)))
        ... except DataError as err:
        ...     print(err)  # doctest: +ELLIPSIS
        images: contains no images ...
    """


def validate_images(images, *, name="images"):
    """Check an image array and return it as float32 in [0, 1] with shape (N, H, W, C).

    uint8 and other integer arrays with values in 0..255 are divided by 255, bool becomes
    0.0/1.0, float arrays must already lie in [0, 1]. An (N, H, W) array gets a channel
    axis. A float32 (N, H, W, C) input is returned without a copy.

    Args:
        images (np.ndarray | array-like): images of shape (N, H, W) or (N, H, W, C),
            C >= 1, dtype uint8, any integer type with values 0..255, bool, or float.
        name (str, default "images"): what to call the array in error messages,
            e.g. the file it came from.

    Returns:
        np.ndarray: float32 array of shape (N, H, W, C) with values in [0, 1].

    Raises:
        DataError: non-numeric dtype, wrong number of dimensions, no images,
            NaN/inf values, or values out of range.

    Example:
        >>> x = validate_images(np.full((2, 28, 28), 255, np.uint8))
        >>> x.shape, x.dtype, float(x.max())
        ((2, 28, 28, 1), dtype('float32'), 1.0)
    """
    arr = np.asarray(images)
    # Kinds: b bool, i/u integer, f float; everything else (object, str, bytes,
    # complex, void, datetime) has no meaning as a pixel intensity.
    if arr.dtype.kind not in "biuf":
        raise DataError(
            f"{name}: non-numeric dtype {arr.dtype}; pass a numeric array "
            "(uint8 in 0..255 or float in [0, 1])."
        )
    if arr.ndim not in (3, 4):
        raise DataError(
            f"{name}: expected 3 or 4 dimensions (N, H, W) or (N, H, W, C), got shape "
            f"{arr.shape} ({arr.ndim} dimensions); stack single images along a first "
            "batch axis, e.g. images[None] for one image."
        )
    if arr.shape[0] == 0:
        raise DataError(f"{name}: contains no images (N == 0); pass at least one image.")
    if arr.ndim == 3:
        arr = arr[..., np.newaxis]
    if min(arr.shape[1:]) == 0:
        raise DataError(
            f"{name}: empty image dimensions in shape {arr.shape}; height, width and "
            "channels must all be at least 1."
        )

    kind = arr.dtype.kind
    if kind == "b":
        return arr.astype(np.float32)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255.0)
    if kind in "iu":
        lo, hi = arr.min(), arr.max()
        if lo < 0 or hi > 255:
            raise DataError(
                f"{name}: integer ({arr.dtype}) values must lie in 0..255, found min {lo} "
                f"and max {hi}; rescale to 0..255 (uint8) or to floats in [0, 1]."
            )
        return arr.astype(np.float32) / np.float32(255.0)

    # Float: counting non-finite values first gives a more useful message than
    # the min/max check would (NaN compares false with everything).
    finite = np.isfinite(arr)
    if not finite.all():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(arr.size - finite.sum()) - n_nan
        raise DataError(
            f"{name}: contains {n_nan} NaN and {n_inf} inf values out of {arr.size}; "
            "remove or repair those images before training."
        )
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        hint = (
            "it looks like 0..255 pixel values: divide by 255"
            if lo >= 0.0 and hi <= 255.0
            else "rescale them, e.g. (x - x.min()) / (x.max() - x.min()), or divide by 255 "
            "for 0..255 pixels"
        )
        raise DataError(
            f"{name}: float values must lie in [0, 1], found min {lo:g} and max {hi:g} "
            f"(outside [0, 1]); {hint}."
        )
    return arr.astype(np.float32, copy=False)


def validate_rows(rows, *, name="rows"):
    """Check a table of feature rows and return it as float32 with shape (N, F).

    Args:
        rows (np.ndarray | array-like): numeric array (N, F), N >= 1, F >= 1, finite values.
        name (str, default "rows"): what to call the array in error messages.

    Returns:
        np.ndarray: float32 array (N, F).

    Raises:
        DataError: non-numeric dtype, not 2-D, no rows or features, NaN/inf values.

    Example:
        >>> validate_rows(np.ones((3, 2), np.float64)).dtype
        dtype('float32')
    """
    arr = np.asarray(rows)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{name}: non-numeric dtype {arr.dtype}; tables must be numeric.")
    if arr.ndim != 2 or 0 in arr.shape:
        raise DataError(f"{name}: a table must be 2-D (rows, features) with at least one of each, got shape {arr.shape}.")
    finite = np.isfinite(arr)
    if not finite.all():
        row, column = (int(i) for i in np.argwhere(~finite)[0])
        raise DataError(
            f"{name}: {int(arr.size - finite.sum())} NaN or infinite values, the first in row {row} column "
            f"{column}; repair or drop them."
        )
    return arr.astype(np.float32, copy=False)
