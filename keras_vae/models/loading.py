"""Loading `.keras` files safely, with clear errors for corrupt or hostile files.

A run directory's model is loaded through `keras_vae.runs.Run.load_model`, which knows the
run's layout and calls `load_model` here.
"""

import json
import os
import zipfile


#: The largest config.json read (uncompressed bytes, from the zip's directory before reading it).
#: keras-vae's configs are a few KB (a conditional VAE's about 4 KB); a bigger one is damaged or
#: hostile (300 MB of whitespace would take over a gigabyte to parse).
MAX_CONFIG_BYTES = 1 << 20
#: The deepest nesting of config.json's objects and lists (keras-vae's reach about 10).
MAX_CONFIG_DEPTH = 64
#: The most values per example a model file may be built for (its `build_config` input shape):
#: a 1024 x 1024 RGBA image; a larger shape would make Keras allocate networks of that size.
MAX_INPUT_VALUES = 1024 * 1024 * 4


class ModelLoadError(ValueError):
    """A `.keras` file that cannot or must not be loaded; the message names the file and the problem."""


def _check_archive(path):
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names:
                raise ModelLoadError(f"{path} is not a Keras model file: it has no config.json.")
            size = archive.getinfo("config.json").file_size
            if size > MAX_CONFIG_BYTES:
                raise ModelLoadError(
                    f"{path} has a config.json of {size:,} bytes, more than the {MAX_CONFIG_BYTES:,} keras-vae "
                    "reads (a model's config is a few KB); the file is damaged or not a keras-vae model. Save or "
                    "copy it again."
                )
            bad = archive.testzip()
            if bad is not None:
                raise ModelLoadError(f"{path} is corrupt: the member {bad} fails its CRC check.")
            config = json.loads(archive.read("config.json").decode("utf-8"))
    except RecursionError as error:
        raise _too_deep(path) from error
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
    _check_bounds(path, config)
    return config


def _too_deep(path):
    return ModelLoadError(
        f"{path} has a config.json nested more deeply than {MAX_CONFIG_DEPTH} levels; the file is damaged or "
        "not a keras-vae model."
    )


def _check_bounds(path, config):
    """Raises ModelLoadError for a config nested deeper than MAX_CONFIG_DEPTH or built for too large inputs."""
    stack = [(config, 1)]
    while stack:  # iterative: a deep config must not exhaust Python's recursion limit here
        value, depth = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            raise _too_deep(path)
        if isinstance(value, dict):
            build_config = value.get("build_config")
            if isinstance(build_config, dict):
                _check_input_shape(path, build_config.get("input_shape"))
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def _check_input_shape(path, shape):
    if not isinstance(shape, list) or not shape:
        return
    if isinstance(shape[0], list):  # (x_shape, condition_shape)
        for part in shape:
            _check_input_shape(path, part)
        return
    values = 1
    for dim in shape[1:]:
        if isinstance(dim, int) and not isinstance(dim, bool):
            values *= max(dim, 0)
    if values > MAX_INPUT_VALUES:
        raise ModelLoadError(
            f"{path} is built for inputs of shape {tuple(shape[1:])}, {values:,} values per example, more than the "
            f"{MAX_INPUT_VALUES:,} keras-vae loads (MAX_INPUT_VALUES); the file is damaged or not a keras-vae model."
        )


def _reason(error):
    """Returns the cause of a Keras loading error in one line, without the config Keras quotes in it."""
    message = str(error)
    # Keras wraps a constructor's error as "... could not be deserialized properly ... config={...}.
    # Exception encountered: <the cause>": the cause is what the user needs, the config is noise.
    if "Exception encountered:" in message:
        message = message.rsplit("Exception encountered:", 1)[1]
    for marker in ("config=", "Full object config:"):
        message = message.split(marker, 1)[0]
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    reason = lines[0] if lines else type(error).__name__
    return reason if len(reason) <= 300 else reason[:297] + "..."


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
    `keras_vae` (e.g. `{"module": "os", "class_name": "system"}`), and a file asking for more than
    keras-vae bounds: a config.json over MAX_CONFIG_BYTES (1 MiB) or nested deeper than
    MAX_CONFIG_DEPTH (64), or built for more than MAX_INPUT_VALUES (4 Mi) values per example;
    the kinds bound their own options (a flow's `option_limits`). Keras itself then loads with
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
        raise ModelLoadError(f"cannot load {path}: {type(error).__name__}: {_reason(error)}") from error


__all__ = ["ModelLoadError", "load_model"]
