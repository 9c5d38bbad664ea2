"""The run is hermetic (tests/hermetic.py) and CI runs the README's command on empty caches (.ci/run)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests import hermetic

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- the comparison


def test_leftovers_name_new_paths_outside_the_allowed_folders(tmp_path):
    watched, allowed = tmp_path / "watched", tmp_path / "watched" / "pytest-of-me" / "pytest-3"
    (watched / "old").mkdir(parents=True)
    (watched / "old" / "kept.txt").write_text("before")
    locations = [(watched, None)]
    before = hermetic.snapshot(locations)

    (watched / "old" / "kept.txt").write_text("changed")  # a changed file is not a new one
    (watched / "tfds" / "fashion_mnist").mkdir(parents=True)  # the old doctest's fixed folder
    (watched / "tfds" / "fashion_mnist" / "a.tfrecord").write_text("x")
    (watched / "old" / "new.txt").write_text("x")
    allowed.mkdir(parents=True)  # pytest's basetemp and its new parent folder are the run's own
    (allowed / "tmp.txt").write_text("x")
    (watched / "__pycache__").mkdir()  # bytecode caches are never listed

    found = hermetic.leftovers(before, hermetic.snapshot(locations), allowed=[allowed])
    # A new folder is named once, without its contents.
    assert found == [str(watched / "old" / "new.txt"), str(watched / "tfds")]
    report = "\n".join(hermetic.leftover_report(found))
    assert "2 new path(s)" in report and str(watched / "tfds") in report


def test_nothing_new_is_no_leftover(tmp_path):
    (tmp_path / "a").mkdir()
    locations = [(tmp_path, None)]
    snap = hermetic.snapshot(locations)
    assert hermetic.leftovers(snap, hermetic.snapshot(locations), allowed=[]) == []


def test_snapshot_depth_limits_the_listing(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c.txt").write_text("x")
    assert hermetic.snapshot([(tmp_path, 1)]) == {str(tmp_path), str(tmp_path / "a")}
    assert hermetic.snapshot([(tmp_path, 2)]) == {str(tmp_path), str(tmp_path / "a"), str(tmp_path / "a" / "b")}
    assert str(tmp_path / "a" / "b" / "c.txt") in hermetic.snapshot([(tmp_path, None)])
    # A watched folder that does not exist yet contributes nothing, so its creation shows.
    assert hermetic.snapshot([(tmp_path / "absent", None)]) == set()


def test_watched_locations_are_the_users_folders(tmp_path):
    home = tmp_path / "home"
    defaults = dict(hermetic.watched_locations({}, home, tmp_path / "tmp", tmp_path / "repo", tmp_path / "repo"))
    for folder in ("tensorflow_datasets", ".keras", ".cache", ".config", ".local/share", ".ipython", ".jupyter"):
        assert home / folder in defaults, folder
    assert defaults[tmp_path / "tmp"] == 1 and defaults[home] == 1
    assert defaults[tmp_path / "repo"] is None  # the repository is listed whole, even as cwd too
    custom = dict(hermetic.watched_locations(
        {"TFDS_DATA_DIR": str(tmp_path / "data"), "KERAS_HOME": str(tmp_path / "k")},
        home, tmp_path / "tmp", tmp_path / "repo", tmp_path / "repo",
    ))
    assert tmp_path / "data" in custom and tmp_path / "k" in custom
    assert home / "tensorflow_datasets" not in custom


# ---------------------------------------------------------------- this run


def test_this_run_uses_fresh_folders_under_pytests_basetemp(request):
    import tensorflow_datasets as tfds

    session = hermetic.session_dir(request.config)
    for name in hermetic.HERMETIC_ENV:
        assert os.environ[name] == str(hermetic.hermetic_path(request.config, name)), name
        assert Path(os.environ[name]).is_relative_to(session), name
    assert Path(tempfile.mkdtemp()).is_relative_to(session)
    # TFDS read TFDS_DATA_DIR when it was imported, after the redirection.
    assert Path(tfds.builder("fashion_mnist").data_dir_root) == hermetic.hermetic_path(request.config, "TFDS_DATA_DIR")


# ---------------------------------------------------------------- a whole run, in a subprocess

INNER_TESTS = '''
import os
import tempfile
from pathlib import Path


def test_writes_only_in_its_temporary_folders(tmp_path, tmp_path_factory):
    basetemp = tmp_path_factory.getbasetemp()
    (tmp_path / "ok.txt").write_text("x")
    scratch = Path(tempfile.mkdtemp())
    (scratch / "ok.txt").write_text("x")
    Path(os.environ["TFDS_DATA_DIR"], "ok.txt").write_text("x")
    assert scratch.is_relative_to(basetemp)
    assert Path(os.environ["KERAS_HOME"]).is_relative_to(basetemp)
'''

LEAVING_TESTS = '''

def test_leaves_files_behind():
    import subprocess, sys
    (Path({systmp!r}) / "tfds").mkdir()  # a fixed folder in the system temp folder
    (Path({systmp!r}) / "tfds" / "dataset_info.json").write_text("x")
    (Path.home() / ".keras").mkdir()
    Path("runs", "default").mkdir(parents=True)  # the working directory: the repository
    # A Python subprocess of the run (as the CLI tests start) is the run's too.
    leak = str(Path({systmp!r}) / "from_a_subprocess.txt")
    subprocess.run([sys.executable, "-c", f"open({{leak!r}}, 'w').write('x')"], check=True)
'''

# Beside the run, another program keeps writing to the same temp and home folders.
OTHER_PROGRAM = """
import os, sys, time
systmp, home, stop = sys.argv[1:]
n = 0
while not os.path.exists(stop) and n < 2000:
    open(os.path.join(systmp, f"__autograph_generated_file{n}.py"), "w").write("x")
    os.makedirs(os.path.join(home, ".keras", f"other{n}"))
    n += 1
    time.sleep(0.05)
"""

SLOW_CLEAN_TESTS = INNER_TESTS + '''

def test_takes_a_while():
    import time
    time.sleep(2)
'''


def _run_inner_pytest(tmp_path, source, make=True):
    """Runs pytest with the hermetic plugin on `source` in private folders.

    Args:
        tmp_path (pathlib.Path): the calling test's folder; gets repo/, home/ and systmp/.
        source (str): the inner test module.
        make (bool): make home/ and systmp/ (False: the caller made them).

    Returns:
        tuple: (subprocess.CompletedProcess, repo, home, systmp).
    """
    repo, home, systmp = tmp_path / "repo", tmp_path / "home", tmp_path / "systmp"
    for folder in (repo, home, systmp) if make else (repo,):
        folder.mkdir()
    (repo / "test_inner.py").write_text(source)
    env = {k: v for k, v in os.environ.items()
           if k not in hermetic.HERMETIC_ENV and k not in hermetic.AUDIT_ENV and not k.startswith("PYTEST_")}
    # Its own home and temp folder: this run's other tests cannot write there meanwhile.
    env.update(HOME=str(home), TMPDIR=str(systmp), PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "pytest", "-p", "tests.hermetic", "-p", "no:cacheprovider",
               "-p", "no:benchmark", "-p", "no:xdist", "-q", "test_inner.py"]
    result = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    return result, repo, home, systmp


@pytest.mark.slow(reason="runs pytest in a subprocess")
def test_a_run_that_leaves_files_fails_and_names_them(tmp_path):
    result, repo, home, systmp = _run_inner_pytest(
        tmp_path, INNER_TESTS + LEAVING_TESTS.format(systmp=str(tmp_path / "systmp"))
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 passed" in result.stdout  # the tests pass; the check fails the run
    named = re.findall(r"^    (/.*)$", result.stdout, re.M)
    assert named == [
        str(home / ".keras"), str(repo / "runs"), str(systmp / "from_a_subprocess.txt"), str(systmp / "tfds")
    ], result.stdout


@pytest.mark.slow(reason="runs pytest in a subprocess")
def test_a_clean_run_passes_while_another_program_writes_to_temp_and_home(tmp_path):
    home, systmp, stop = tmp_path / "home", tmp_path / "systmp", tmp_path / "stop"
    other_env = {k: v for k, v in os.environ.items() if k not in hermetic.AUDIT_ENV}
    home.mkdir()
    systmp.mkdir()
    other = subprocess.Popen([sys.executable, "-c", OTHER_PROGRAM, str(systmp), str(home), str(stop)], env=other_env)
    try:
        result, *_ = _run_inner_pytest(tmp_path, SLOW_CLEAN_TESTS, make=False)
    finally:
        stop.touch()
        other.wait(timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout and "left behind" not in result.stdout
    # It did write during the run: more files than the 2 s sleep alone would let it make before.
    assert len(list(systmp.glob("__autograph_generated_file*.py"))) >= 40
    assert len(list((home / ".keras").iterdir())) >= 40


def test_blamed_keeps_the_runs_own_folders_and_what_it_wrote(tmp_path):
    repo, shared = tmp_path / "repo", tmp_path / "tmp"
    paths = [str(repo / "runs"), str(shared / "mine"), str(shared / "other.py"), str(shared / "made_by_other")]
    recorded = {str(shared / "mine" / "a.txt"), str(shared / "made_by_other" / "b.txt"), str(tmp_path / "elsewhere")}
    assert hermetic.blamed(paths, recorded, own=[repo]) == [
        str(repo / "runs"), str(shared / "mine"), str(shared / "made_by_other")
    ]


# ---------------------------------------------------------------- CI

STUB_PYTHON = """#!/bin/sh
# Records what CI runs and the folders it runs with, instead of running it.
{{
  echo "ARGS $*"
  for name in TMPDIR TFDS_DATA_DIR KERAS_HOME MPLCONFIGDIR XDG_CACHE_HOME PIP_CACHE_DIR; do
    eval "folder=\\${{$name:-}}"
    if [ -d "$folder" ]; then state="$(ls -A "$folder" | wc -l)"; else state=absent; fi
    echo "$name $folder $state"
  done
}} > {log}
"""


def test_ci_runs_the_readmes_test_command_with_empty_caches(tmp_path):
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"run the whole test suite:\n\n```bash\n(.*?)\n```", readme).group(1)
    assert command == "bash scripts/install.sh test && python -m pytest -n 2 --dist worksteal"
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()

    # .ci/run in a copy of the repository whose install script and python only record.
    checkout, bin_dir, log = tmp_path / "checkout", tmp_path / "bin", tmp_path / "python.log"
    (checkout / ".ci").mkdir(parents=True)
    (checkout / "scripts").mkdir()
    shutil.copy(ROOT / ".ci" / "run", checkout / ".ci" / "run")
    (checkout / "scripts" / "install.sh").write_text(f'echo "install $*" > {tmp_path / "install.log"}\n')
    bin_dir.mkdir()
    (bin_dir / "python").write_text(STUB_PYTHON.format(log=log))
    (bin_dir / "python").chmod(0o755)
    ci_temp = tmp_path / "ci_temp"  # where .ci/run's mktemp makes its folder
    ci_temp.mkdir()
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", TMPDIR=str(ci_temp))
    result = subprocess.run(["bash", str(checkout / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr

    assert (tmp_path / "install.log").read_text() == "install test\n"
    lines = log.read_text().splitlines()
    assert lines[0] == "ARGS -m pytest -n 2 --dist worksteal"
    records = [line.split(" ") for line in lines[1:]]
    folders = {name: folder for name, folder, _ in records}
    # Each folder exists and is empty when the suite starts; pip makes its cache when it needs one.
    assert {name: state for name, _, state in records} == {
        "TMPDIR": "0", "TFDS_DATA_DIR": "0", "KERAS_HOME": "0", "MPLCONFIGDIR": "0",
        "XDG_CACHE_HOME": "0", "PIP_CACHE_DIR": "absent",
    }
    fresh = {Path(folder).parent for name, folder in folders.items() if name != "PIP_CACHE_DIR"}
    assert len(fresh) == 1, folders  # one folder made for this run
    (fresh,) = fresh
    assert fresh.parent == ci_temp
    assert Path(folders["PIP_CACHE_DIR"]) == Path(folders["XDG_CACHE_HOME"]) / "pip"
    assert not fresh.exists()  # removed on exit
    assert not list(ci_temp.iterdir())
