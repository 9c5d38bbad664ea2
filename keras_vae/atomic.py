"""Atomic file writes: an artifact appears whole or not at all."""

import contextlib
import json
import os
import tempfile


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; on success renames it to `path`, else removes it.

    The temporary file sits in the same directory, so the final `os.replace` is an
    atomic rename; it gets the permissions a plain `open(path, "w")` would give.

    Example:
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> with atomic_path(target) as tmp:
    ...     _ = open(tmp, "w").write("hello")
    >>> open(target).read()
    'hello'
    """
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    suffix = os.path.splitext(name)[1]  # Keras and matplotlib choose formats by suffix.
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=f".tmp{suffix}", dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_bytes(path, data):
    """Writes `data` to `path` atomically, flushed to disk first."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_json(path, data):
    """Writes `data` as indented, key-sorted JSON to `path` atomically."""
    write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def save_model(model, path):
    """Saves a Keras model to `path` (.keras) atomically."""
    with atomic_path(path) as tmp:
        model.save(tmp)
