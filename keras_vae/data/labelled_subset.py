"""The labelled subset of semi-supervised training: balanced over the classes, drawn from a seed."""

import numpy as np

from keras_vae.data.validation import DataError


def check_class_labels(labels, num_examples, num_classes=None):
    """Returns `labels` as an int64 array (N,) of class ids 0..K-1; DataError naming the problem.

    Args:
        labels: array-like of class ids, one per example.
        num_examples: int. N, the number of examples the labels belong to.
        num_classes: int or None, default None (K = max label + 1).

    Example:
    >>> check_class_labels([0, 2, 1], 3).tolist()
    [0, 2, 1]
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != int(num_examples):
        raise DataError(
            f"labels: got shape {labels.shape} for {num_examples} examples; give one class id per example (N,)."
        )
    if labels.size and not (np.issubdtype(labels.dtype, np.integer) or np.all(labels == np.round(labels))):
        raise DataError(f"labels must be integer class ids, got dtype {labels.dtype} with fractional values.")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise DataError(f"labels must be class ids 0..K-1, got {labels.min()}; remove or relabel those examples.")
    if num_classes is not None and labels.size and labels.max() >= int(num_classes):
        raise DataError(
            f"labels lie in [0, {labels.max()}] but there are {num_classes} classes (ids 0..{int(num_classes) - 1})."
        )
    return labels


def labelled_subset(labels, per_class=None, total=None, num_classes=None, seed=0):
    """Returns the sorted indices (int64) of a balanced labelled subset of the examples.

    Every class gets `per_class` examples; with `total` instead, every class gets
    total // K and the first total % K classes of a seeded class order one more. Within
    a class the examples are a seeded draw without replacement
    (`np.random.default_rng(seed)`), so the same labels and seed give the same subset.

    Args:
        labels: int array (N,) of class ids 0..K-1 (`check_class_labels`).
        per_class: int or None. Labelled examples per class (`--labels-per-class`).
        total: int or None. Labelled examples in all (`--labelled-examples`); give
            exactly one of the two.
        num_classes: int or None, default None (max label + 1).
        seed: int, default 0.

    Raises:
        DataError: a class with no example, more labels asked for than a class has, or
            bad labels (see `check_class_labels`).

    Example:
    >>> labels = np.array([0, 1, 0, 1, 0, 1])
    >>> idx = labelled_subset(labels, per_class=2, seed=0)
    >>> np.bincount(labels[idx]).tolist()
    [2, 2]
    """
    if (per_class is None) == (total is None):
        raise ValueError("Give exactly one of per_class (--labels-per-class) and total (--labelled-examples).")
    labels = np.asarray(labels)
    labels = check_class_labels(labels, len(labels), num_classes)
    k = int(num_classes) if num_classes is not None else int(labels.max()) + 1
    counts = np.bincount(labels, minlength=k)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise DataError(
            f"class {int(empty[0])} has no example in the training data ({empty.size} of {k} classes have none); "
            "a balanced labelled subset needs every class: relabel the classes 0..K-1 without gaps."
        )
    rng = np.random.default_rng(int(seed))
    if per_class is not None:
        if int(per_class) < 1:
            raise ValueError(f"labels per class must be a positive integer, got {per_class}.")
        wanted = np.full(k, int(per_class))
    else:
        if int(total) < k:
            raise DataError(f"{total} labelled examples cannot cover {k} classes; ask for at least {k}.")
        wanted = np.full(k, int(total) // k)
        wanted[rng.permutation(k)[: int(total) % k]] += 1
    short = np.flatnonzero(wanted > counts)
    if short.size:
        c = int(short[0])
        raise DataError(
            f"asked for {wanted[c]} labelled examples of class {c}, but the training data has only {counts[c]}; "
            f"ask for at most {counts.min()} per class (or {counts.min() * k} in all)."
        )
    chosen = [rng.permutation(np.flatnonzero(labels == c))[: wanted[c]] for c in range(k)]
    return np.sort(np.concatenate(chosen)).astype(np.int64)
