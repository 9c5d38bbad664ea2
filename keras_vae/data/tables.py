"""Tabular data: numeric .csv files and 2-D .npy arrays as float32 feature rows (N, F).

Tables are modelled by the MLP encoder/decoder pair with a Gaussian likelihood
(features are unbounded). Values are used as they are: per-feature
standardisation is the user's choice, offered by `load_user_table(...,
standardize=True)` and `Standardizer`, which keeps the mean and std so that
decoded rows map back to the original units (`inverse_transform`).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from keras_vae.data.validation import DataError

TABLE_EXTENSIONS = (".csv",)
_MISSING = {"", "nan", "na", "n/a", "null", "none", "?"}


def _number(text):
    try:
        return float(text)
    except ValueError:
        return None


def _column_name(columns, j):
    return f"column {columns[j]!r} (number {j + 1})" if columns else f"column {j + 1}"


def load_csv(path, header=None, delimiter=","):
    """Loads a numeric CSV table as float32 rows.

    The first row is a header when any of its cells is not a number (or when
    `header=True`). Every other cell must be a finite number.

    Args:
        path (str | os.PathLike): the .csv file.
        header (bool | None, default None): None detects a header; True/False force it.
        delimiter (str, default ","): the cell separator.

    Returns:
        tuple: (values float32 np.ndarray (N, F), column names list of str; "0".."F-1" without a header).

    Raises:
        DataError: missing file, no data rows, rows of different lengths, a
            non-numeric cell (its line, column name and value), an empty/NaN
            cell or an infinite value (its line and column).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> _ = open(path, "w").write("height,weight\\n1.5,60\\n1.8,80\\n")
        >>> values, columns = load_csv(path)
        >>> values.tolist(), columns
        ([[1.5, 60.0], [1.7999999523162842, 80.0]], ['height', 'weight'])
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"table file not found: {path}; check the path.")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [(number, row) for number, row in enumerate(csv.reader(f, delimiter=delimiter), start=1) if row]
    if not rows:
        raise DataError(f"{path} is empty; a table needs rows of numbers.")
    first = [cell.strip() for cell in rows[0][1]]
    if header is None:
        header = any(_number(cell) is None for cell in first)
    columns = first if header else None
    body = rows[1:] if header else rows
    if not body:
        raise DataError(f"{path} has a header but no data rows.")
    width = len(first)
    values = np.empty((len(body), width), dtype=np.float64)
    for i, (line, row) in enumerate(body):
        if len(row) != width:
            raise DataError(f"{path}, line {line}: {len(row)} cells but the first row has {width}; fix the row.")
        for j, cell in enumerate(row):
            text = cell.strip()
            value = _number(text)
            if text.lower() in _MISSING or (value is not None and math.isnan(value)):
                raise DataError(
                    f"{path}, line {line}, {_column_name(columns, j)}: empty or NaN cell {cell!r}; fill or "
                    "drop missing values before training."
                )
            if value is None:
                raise DataError(
                    f"{path}, line {line}, {_column_name(columns, j)}: {cell!r} is not a number; tables must be "
                    "numeric, so drop this column or encode it as numbers (e.g. one-hot) first."
                )
            if math.isinf(value):
                raise DataError(f"{path}, line {line}, {_column_name(columns, j)}: infinite value {cell!r}.")
            values[i, j] = value
    return values.astype(np.float32), columns or [str(j) for j in range(width)]


def is_table_file(path):
    """True for a .csv file or a .npy file holding a 2-D array (N, F).

    Example:
        >>> is_table_file("data.csv"), is_table_file("images/")
        (True, False)
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in TABLE_EXTENSIONS:
        return True
    if suffix == ".npy" and path.is_file():
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False).ndim == 2
        except (OSError, ValueError):
            return False  # load_user_images reports the unreadable file
    return False


def load_table(path):
    """Loads a .csv table (see `load_csv`) or a 2-D .npy array as float32 (N, F) and column names.

    Raises:
        DataError: unreadable file, not 2-D, non-numeric dtype, NaN/inf values.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "t.npy")
        >>> np.save(path, np.ones((4, 3)))
        >>> values, columns = load_table(path)
        >>> values.shape, columns
        ((4, 3), ['0', '1', '2'])
    """
    path = Path(path)
    if path.suffix.lower() in TABLE_EXTENSIONS:
        return load_csv(path)
    if not path.is_file():
        raise DataError(f"table file not found: {path}; check the path.")
    try:
        values = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {path}: {err}") from err
    if values.ndim != 2:
        raise DataError(f"{path}: a table must be 2-D (rows, features), got shape {values.shape}.")
    if values.dtype.kind not in "biuf":
        raise DataError(f"{path}: non-numeric dtype {values.dtype}; save a numeric array.")
    bad = ~np.isfinite(values.astype(np.float64))
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{path}: {int(bad.sum())} NaN or infinite values, the first in row {row} column {column}; "
            "repair or drop them."
        )
    return values.astype(np.float32), [str(j) for j in range(values.shape[1])]


class Standardizer:
    """Per-feature standardisation z = (x - mean) / std, kept so outputs map back to data units.

    Args:
        mean: array (F,).
        std: array (F,); constant features get std 1.

    Example:
        >>> s = Standardizer.fit(np.array([[0.0, 10.0], [2.0, 10.0]]))
        >>> s.transform(np.array([[2.0, 10.0]])).tolist(), s.inverse_transform(np.zeros((1, 2))).tolist()
        ([[1.0, 0.0]], [[1.0, 10.0]])
    """

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32)
        std = np.asarray(std, dtype=np.float32)
        self.std = np.where(std > 0, std, np.float32(1.0)).astype(np.float32)

    @classmethod
    def fit(cls, values):
        """Returns the Standardizer of `values` (N, F): their per-feature mean and std."""
        values = np.asarray(values, dtype=np.float64)
        return cls(values.mean(axis=0), values.std(axis=0))

    def transform(self, values):
        """Returns (values - mean) / std as float32."""
        return ((np.asarray(values, np.float32) - self.mean) / self.std).astype(np.float32)

    def inverse_transform(self, values):
        """Returns values * std + mean: model outputs in the data's units."""
        return (np.asarray(values, np.float32) * self.std + self.mean).astype(np.float32)

    def get_config(self):
        """Returns {"mean": [...], "std": [...]} (JSON-ready)."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


def load_user_table(path, *, validation_fraction=0.1, seed=0, standardize=False):
    """Loads a table and splits it into train and held-out rows, like `load_user_images`.

    Args:
        path (str | os.PathLike): a .csv file or a 2-D .npy array.
        validation_fraction (float, default 0.1): share of rows held out.
        seed (int, default 0): seed of the split permutation.
        standardize (bool, default False): standardise every feature with the
            train split's mean and std (returned, to map outputs back).

    Returns:
        dict: {"train": (values, None), "test": (values, None), "columns": list of str,
        "standardizer": Standardizer or None}; values float32 (n, F).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "t.npy")
        >>> np.save(path, np.arange(20.0).reshape(10, 2))
        >>> data = load_user_table(path, validation_fraction=0.2, standardize=True)
        >>> data["train"][0].shape, data["test"][0].shape, round(float(data["train"][0].mean()), 6)
        ((8, 2), (2, 2), 0.0)
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}.")
    values, columns = load_table(path)
    n = len(values)
    n_test = int(round(n * validation_fraction))
    if n_test == 0 or n_test == n:
        raise DataError(
            f"{path}: {n} rows cannot be split with validation_fraction={validation_fraction}; add rows."
        )
    perm = np.random.default_rng(seed).permutation(n)
    train, test = values[np.sort(perm[n_test:])], values[np.sort(perm[:n_test])]
    standardizer = None
    if standardize:
        standardizer = Standardizer.fit(train)
        train, test = standardizer.transform(train), standardizer.transform(test)
    return {"train": (train, None), "test": (test, None), "columns": columns, "standardizer": standardizer}

