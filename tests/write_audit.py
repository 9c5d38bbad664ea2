"""Records which paths a test run's own Python processes write, so leftovers can be blamed on the run.

The folders the hermetic check watches (tests/hermetic.py) are shared: another program on the
machine, a TensorFlow job say, writes to the system temp folder and the home folder while the
suite runs. A new path there is the suite's only if one of the suite's processes wrote it. Each
of them records its writes with an audit hook (`sys.addaudithook`, PEP 578), which sees every
file opened for writing, every folder made and every rename or link made by Python code:

- the pytest controller and the xdist workers install it from the plugin;
- every Python subprocess of the run (the CLI, notebook kernels, multi-worker runs) installs it
  from a `sitecustomize` module that the plugin puts first on PYTHONPATH (`site_folder`).

A process appends the paths it writes outside the run's own folders to `<log folder>/<pid>.log`,
one per line. Writes by native code (TensorFlow's C++ file system) and by non-Python programs
(chromium, npm) are not seen: the run points their folders at private ones instead (HERMETIC_ENV).

This file is also the subprocesses' `sitecustomize`, so it imports only the standard library.
"""

import os
import sys

LOG_ENV = "KERAS_VAE_TEST_WRITE_LOG"  # the folder of the per-process logs
ALLOWED_ENV = "KERAS_VAE_TEST_WRITE_ALLOWED"  # os.pathsep-separated folders whose writes are the run's own
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_state = {"fd": None, "busy": False, "log": None, "allowed": ()}


# Audit event -> the position of the path it creates ("open" only when it opens for writing).
_NEW_PATH_ARG = {"open": 0, "os.mkdir": 0, "os.symlink": 1, "os.link": 1, "os.rename": 1, "os.replace": 1}


def _written_path(event, args):
    """The path an audit event writes, or None."""
    if event == "open":
        _, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        if not writes:
            return None
    path = args[_NEW_PATH_ARG[event]]
    return None if isinstance(path, int) else path  # an int is an already open file descriptor


def _hook(event, args):
    if event not in _NEW_PATH_ARG or _state["busy"]:
        return
    _state["busy"] = True  # the hook's own os.open of its log must not record itself
    try:
        path = _written_path(event, args)
        if path is None:
            return
        path = os.path.abspath(os.fsdecode(path))
        if any(path == a or path.startswith(a + os.sep) for a in _state["allowed"]):
            return
        if _state["fd"] is None:
            _state["fd"] = os.open(
                os.path.join(_state["log"], f"{os.getpid()}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
            )
        os.write(_state["fd"], (path + "\n").encode("utf-8", "surrogateescape"))
    except Exception:  # an audit hook must never break the code it watches
        pass
    finally:
        _state["busy"] = False


def _after_fork():
    _state["fd"] = None  # the child writes its own log


def install(log_folder, allowed):
    """Starts recording this process's writes outside `allowed` into `log_folder`.

    Args:
        log_folder (str): where `<pid>.log` goes (itself an allowed folder).
        allowed (Iterable[str]): folders whose writes are not recorded.
    """
    if _state["log"] is not None:
        return
    _state["log"] = os.path.abspath(log_folder)
    _state["allowed"] = tuple(os.path.abspath(a).rstrip(os.sep) for a in allowed)
    os.register_at_fork(after_in_child=_after_fork)
    sys.addaudithook(_hook)


def install_from_environment():
    """Installs the hook when the run's environment names a log folder (in the run's subprocesses)."""
    log_folder = os.environ.get(LOG_ENV)
    if log_folder and os.path.isdir(log_folder):
        install(log_folder, [p for p in os.environ.get(ALLOWED_ENV, "").split(os.pathsep) if p])


def recorded(log_folder):
    """Every path the run's processes recorded.

    Args:
        log_folder (str or os.PathLike): the folder given to `install`.

    Returns:
        set[str]: absolute paths.
    """
    found = set()
    for entry in os.scandir(log_folder):
        if entry.name.endswith(".log"):
            with open(entry.path, encoding="utf-8", errors="surrogateescape") as f:
                found.update(line.rstrip("\n") for line in f if line.strip())
    return found


def site_folder(folder):
    """Makes `folder` hold a `sitecustomize` that installs the hook; returns the folder.

    The module chains to the `sitecustomize` it shadows (a distribution's or a virtual
    environment's), so adding the folder to PYTHONPATH changes nothing else.
    """
    os.makedirs(folder, exist_ok=True)
    with open(__file__, encoding="utf-8") as f:
        source = f.read()
    with open(os.path.join(folder, "sitecustomize.py"), "w", encoding="utf-8") as f:
        f.write(source + _CHAIN)
    return folder


_CHAIN = '''

install_from_environment()


def _chain_to_shadowed_sitecustomize():
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        if not entry or os.path.abspath(entry) == here:
            continue
        candidate = os.path.join(entry, "sitecustomize.py")
        if os.path.isfile(candidate):
            spec = importlib.util.spec_from_file_location("_shadowed_sitecustomize", candidate)
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
            return


_chain_to_shadowed_sitecustomize()
'''
