"""Loading `.keras` files safely, with clear errors for corrupt or hostile files.

A run directory's model is loaded through `keras_vae.runs.Run.load_model`, which knows the
run's layout and calls `load_model` here.
"""

import json
import os
import zipfile


class ModelLoadError(ValueError):
    """A `.keras` file that cannot or must not be loaded; the message names the file and the problem."""


def _check_archive(path):
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names:
                raise ModelLoadError(f"{path} is not a Keras model file: it has no config.json.")
            bad = archive.testzip()
            if bad is not None:
                raise ModelLoadError(f"{path} is corrupt: the member {bad} fails its CRC check.")
            config = json.loads(archive.read("config.json").decode("utf-8"))
    except zipfile.BadZipFile as error:
        raise ModelLoadError(
            f"{path} is not a valid .keras file (truncated or corrupt zip archive: {error}); save or copy it again."
        ) from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"{path} has an unreadable config.json ({error}).") from error
    except (OSError, EOFError, RuntimeError) as error:  # RuntimeError: encrypted members
        raise ModelLoadError(f"cannot read {path}: {error}") from error
    if not isinstance(config, dict):
        raise ModelLoadError(f"{path} has a config.json that is not a JSON object.")
    return config


def _foreign_modules(config):
    """Yields (module, class_name) of every object in the config outside keras and keras_vae."""
    if isinstance(config, dict):
        module = config.get("module")
        if isinstance(module, str) and "class_name" in config:
            root = module.split(".")[0]
            if root not in ("keras", "keras_vae", "builtins") or (root == "builtins" and config["class_name"] not in (
                "tuple", "list", "dict", "set", "bytes", "float", "int", "str"
            )):
                yield module, config.get("class_name")
        for value in config.values():
            yield from _foreign_modules(value)
    elif isinstance(config, list):
        for value in config:
            yield from _foreign_modules(value)


def load_model(path):
    """Loads a `.keras` model file in Keras' safe mode; raises ModelLoadError with a clear message.

    Refused before Keras sees the file: a missing file, a truncated or corrupt zip archive, an
    unreadable config.json, and any config entry whose module lies outside `keras` and
    `keras_vae` (e.g. `{"module": "os", "class_name": "system"}`). Keras itself then loads with
    `safe_mode=True`, which refuses Lambda layers and other serialized Python code; its errors
    are re-raised as ModelLoadError naming the file.

    Args:
        path: str or os.PathLike. A `.keras` file.

    Returns:
        The loaded model.

    Example:
    >>> load_model("/nonexistent/model.keras")
    Traceback (most recent call last):
    ...
    keras_vae.models.loading.ModelLoadError: model file /nonexistent/model.keras not found.
    """
    import keras

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelLoadError(f"model file {path} not found.")
    config = _check_archive(path)
    foreign = sorted({f"{m}.{c}" for m, c in _foreign_modules(config)})
    if foreign:
        raise ModelLoadError(
            f"{path} refers to code outside keras and keras_vae ({', '.join(foreign)}); refusing to load it "
            "(it could run arbitrary code)."
        )
    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as error:  # noqa: BLE001 - every failure becomes one clear message
        message = str(error)
        if "safe_mode" in message or "Lambda" in message:
            raise ModelLoadError(
                f"{path} holds serialized Python code (e.g. a Lambda layer), which is refused in safe mode: "
                f"{message.splitlines()[0] if message else type(error).__name__}"
            ) from error
        raise ModelLoadError(f"cannot load {path}: {type(error).__name__}: {message[:500]}") from error


__all__ = ["ModelLoadError", "load_model"]
