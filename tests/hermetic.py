"""A pytest plugin that keeps a test run hermetic (loaded for every run by the root conftest.py).

A run must behave as on a machine that never ran the project, and leave nothing behind:

1. Before anything imports TensorFlow, TFDS, Keras, matplotlib, IPython or hypothesis, the
   temp folder and every cache they keep between runs (`HERMETIC_ENV`) are pointed at fresh
   folders under pytest's basetemp. pytest-xdist workers, notebook kernels and subprocesses
   inherit the environment, so the whole run shares one set of folders: TFDS's default data
   dir there is where `fashion_mnist_data_dir` prepares Fashion-MNIST, once per run.
2. The folders a run could litter (`watched_locations`: the system temp folder, the home
   folder, the default TFDS data dir, Keras home, the XDG, matplotlib, IPython and Jupyter
   folders, the repository tree) are listed before the run and again after it; a run that leaves new
   entries there fails and names them. Only the run's own are blamed (`blamed`): a new path
   in the repository always, one in the other folders, which other programs on the machine
   share, only if one of the run's Python processes wrote it (tests/write_audit.py records
   their writes), so a TensorFlow job writing to /tmp beside the suite does not fail it.

Both happen in the controller process only (the one process without xdist, the xdist
master with it), which starts before the workers and finishes after them, so it sees every
worker's effects.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import write_audit

# Environment variable -> folder under <session dir>/hermetic/ that replaces it for the run.
HERMETIC_ENV = {
    "TMPDIR": "tmp",  # tempfile.mkdtemp() in tests, doctests, notebooks, TFDS's own scratch dirs
    "TFDS_DATA_DIR": "tensorflow_datasets",  # TFDS's default data dir (~/tensorflow_datasets)
    "KERAS_HOME": "keras",  # keras.json and keras.datasets downloads (~/.keras)
    "MPLCONFIGDIR": "matplotlib",  # matplotlib's config and font cache
    "XDG_CACHE_HOME": "xdg_cache",  # ~/.cache: pip, matplotlib's fallback, others
    "XDG_CONFIG_HOME": "xdg_config",  # ~/.config
    "XDG_DATA_HOME": "xdg_data",  # ~/.local/share: the Jupyter kernels' connection files
    "IPYTHONDIR": "ipython",  # ~/.ipython: the notebook kernels' profile and history
    "JUPYTER_CONFIG_DIR": "jupyter_config",  # ~/.jupyter: read by the kernels, written by Jupyter apps
    "HYPOTHESIS_STORAGE_DIRECTORY": "hypothesis",  # ./.hypothesis: hypothesis' example database
}

# Set for the run's processes besides HERMETIC_ENV: write recording (tests/write_audit.py) and imports.
AUDIT_ENV = (write_audit.LOG_ENV, write_audit.ALLOWED_ENV, "PYTHONPATH", "PYTHONSAFEPATH")

# Never listed: version control and bytecode caches (written by every import).
SKIPPED_NAMES = frozenset({".git", "__pycache__"})


def session_dir(config) -> Path:
    """The folder that all processes of this run share, under pytest's basetemp.

    Args:
        config (pytest.Config): the run's config, in the controller or in an xdist worker.

    Returns:
        pathlib.Path: the controller's basetemp; an xdist worker's basetemp is a folder in
        it (`<basetemp>/popen-gw0`), so a worker returns its parent.
    """
    basetemp = config._tmp_path_factory.getbasetemp()
    return basetemp.parent if hasattr(config, "workerinput") else basetemp


def hermetic_path(config, name: str) -> Path:
    """The folder that replaces environment variable `name` (a key of HERMETIC_ENV) in this run.

    Args:
        config (pytest.Config): the run's config.
        name (str): e.g. "TFDS_DATA_DIR".

    Returns:
        pathlib.Path: `<session dir>/hermetic/<folder>`.
    """
    return session_dir(config) / "hermetic" / HERMETIC_ENV[name]


def watched_locations(environ, home: Path, tempdir: Path, rootdir: Path, cwd: Path):
    """The folders a test run could litter, each with how deep to list it.

    Read from the environment as it is before the run redirects it, so they are the folders
    the user's own programs use.

    Args:
        environ (Mapping[str, str]): the environment, e.g. os.environ.
        home (pathlib.Path): the home folder.
        tempdir (pathlib.Path): the system temp folder (tempfile.gettempdir()).
        rootdir (pathlib.Path): the repository (pytest's rootdir).
        cwd (pathlib.Path): the working directory.

    Returns:
        list[tuple[pathlib.Path, int | None]]: (folder, depth); depth 1 lists a folder's own
        entries, None lists all of it. Depths stay small where other programs write too
        (pip's cache), since the check cannot tell their files from the run's.
    """
    def env_path(name, default):
        return Path(environ[name]) if environ.get(name) else default

    xdg_cache = env_path("XDG_CACHE_HOME", home / ".cache")
    xdg_config = env_path("XDG_CONFIG_HOME", home / ".config")
    locations = [
        (tempdir, 1),
        (home, 1),
        (env_path("TFDS_DATA_DIR", home / "tensorflow_datasets"), 3),
        (env_path("KERAS_HOME", home / ".keras"), 3),
        (env_path("MPLCONFIGDIR", xdg_config / "matplotlib"), 2),
        (xdg_cache, 2),
        (xdg_config, 2),
        (env_path("XDG_DATA_HOME", home / ".local" / "share"), 3),
        (env_path("IPYTHONDIR", home / ".ipython"), 3),
        (env_path("JUPYTER_CONFIG_DIR", home / ".jupyter"), 2),
        (rootdir, None),
        (cwd, 1),
    ]
    deepest = {}  # a folder named twice (e.g. cwd is the repository) is listed to the larger depth
    for path, depth in locations:
        path = Path(os.path.abspath(path))
        known = deepest.get(path, 0)
        deepest[path] = None if depth is None or known is None else max(depth, known)
    return list(deepest.items())


def snapshot(locations) -> set[str]:
    """Every path in the given folders, down to each folder's depth (symlinks not followed).

    Args:
        locations (Iterable[tuple[pathlib.Path, int | None]]): as from `watched_locations`.

    Returns:
        set[str]: the absolute paths, the folders themselves included when they exist (so a
        watched folder that a run creates counts as new).
    """
    found = set()

    def walk(folder, depth):
        try:
            entries = list(os.scandir(folder))
        except OSError:  # gone or unreadable meanwhile: other programs share these folders
            return
        for entry in entries:
            if entry.name in SKIPPED_NAMES:
                continue
            found.add(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir and (depth is None or depth > 1):
                walk(entry.path, None if depth is None else depth - 1)

    for folder, depth in locations:
        if os.path.isdir(folder):
            found.add(os.fspath(folder))
            walk(os.fspath(folder), depth)
    return found


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def leftovers(before, after, allowed) -> list[str]:
    """The paths a run added outside the folders it may write to, outermost first.

    Args:
        before (set[str]): `snapshot` at the start of the run.
        after (set[str]): `snapshot` at its end.
        allowed (Iterable[str | os.PathLike]): folders the run may write in (pytest's
            basetemp, its cache); their ancestors may be new too (pytest-of-<user>).

    Returns:
        list[str]: sorted new paths; a new folder is listed without its contents.
    """
    allowed = [os.path.abspath(a) for a in allowed]
    new = sorted(
        path
        for path in set(after) - set(before)
        if not any(_within(path, a) or _within(a, path) for a in allowed)
    )
    outermost = []
    for path in new:  # sorted: a folder comes before its contents
        if not (outermost and _within(path, outermost[-1])):
            outermost.append(path)
    return outermost


def blamed(paths, recorded, own) -> list[str]:
    """The leftovers that are the run's: in its own folders, or written by its processes.

    Args:
        paths (list[str]): from `leftovers`.
        recorded (set[str]): paths the run's processes wrote (`write_audit.recorded`).
        own (Iterable[str | os.PathLike]): folders no other program writes in (the repository).

    Returns:
        list[str]: the paths of `paths` inside `own`, or that are or contain a recorded path.
    """
    own = [os.path.abspath(folder) for folder in own]
    return [
        path for path in paths
        if any(_within(path, folder) for folder in own) or any(_within(written, path) for written in recorded)
    ]


def leftover_report(paths) -> list[str]:
    """The lines that explain a failed check.

    Args:
        paths (list[str]): from `leftovers`.

    Returns:
        list[str]: a header, one line per path, and what to do.
    """
    return [
        f"This test run left {len(paths)} new path(s) outside its temporary folders:",
        *(f"    {path}" for path in paths),
        "Tests, doctests and notebooks must write only under pytest's tmp_path / tmp_path_factory "
        "or tempfile (which this run points into them); see tests/hermetic.py. Each path above is "
        "in the repository or was written by one of this run's processes.",
    ]


@dataclass
class _Check:
    locations: list
    before: set
    allowed: list
    own: list
    write_log: Path
    saved_env: dict
    saved_tempdir: str | None
    found: list = field(default_factory=list)


_CHECK = pytest.StashKey[_Check]()


def _is_controller(config) -> bool:
    return not hasattr(config, "workerinput")


@pytest.hookimpl(trylast=True)  # after pytest's tmpdir plugin has set up config._tmp_path_factory
def pytest_configure(config):
    if not _is_controller(config):
        return  # xdist workers inherit the controller's environment
    basetemp = config._tmp_path_factory.getbasetemp()  # created now, in the real temp folder
    locations = watched_locations(
        os.environ, Path.home(), Path(tempfile.gettempdir()), config.rootpath, Path.cwd()
    )
    allowed = [basetemp]
    try:  # pytest's own cache (.pytest_cache), unless -p no:cacheprovider
        allowed.append(config.rootpath / config.getini("cache_dir"))
    except ValueError:
        pass
    write_log = session_dir(config) / "hermetic" / "writes"
    write_log.mkdir(parents=True, exist_ok=True)
    check = _Check(
        locations=locations,
        before=snapshot(locations),
        allowed=allowed,
        own=[config.rootpath],
        write_log=write_log,
        saved_env={name: os.environ.get(name) for name in (*HERMETIC_ENV, *AUDIT_ENV)},
        saved_tempdir=tempfile.tempdir,
    )
    for name in HERMETIC_ENV:
        path = hermetic_path(config, name)
        path.mkdir(parents=True, exist_ok=True)
        os.environ[name] = os.fspath(path)
    tempfile.tempdir = None  # gettempdir() caches its answer; make it read TMPDIR again
    # Every Python process of the run records its writes: this one now, the xdist workers,
    # notebook kernels and CLI subprocesses through the sitecustomize on PYTHONPATH.
    site = write_audit.site_folder(os.fspath(session_dir(config) / "hermetic" / "site"))
    os.environ[write_audit.LOG_ENV] = os.fspath(write_log)
    os.environ[write_audit.ALLOWED_ENV] = os.pathsep.join(os.fspath(a) for a in allowed)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [site, check.saved_env["PYTHONPATH"]]))
    # Subprocesses started in the repository (python -m keras_vae ...) import the installed
    # package, not the checkout's folder of the same name (Python 3.11+).
    os.environ["PYTHONSAFEPATH"] = "1"
    write_audit.install(os.fspath(write_log), allowed)
    config.stash[_CHECK] = check


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    check = session.config.stash.get(_CHECK, None)
    if check is None:
        return
    found = leftovers(check.before, snapshot(check.locations), check.allowed)
    check.found = blamed(found, write_audit.recorded(check.write_log), check.own)
    if check.found and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config):
    check = config.stash.get(_CHECK, None)
    if check is None or not check.found:
        return
    terminalreporter.section("files left behind", sep="=", red=True, bold=True)
    for line in leftover_report(check.found):
        terminalreporter.line(line, red=True)


def pytest_unconfigure(config):
    check = config.stash.get(_CHECK, None)
    if check is None:
        return
    for name, value in check.saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    tempfile.tempdir = check.saved_tempdir
