"""The `keras-vae` command hides TensorFlow's C++ log lines by default and keeps them with --verbose."""

import os
import re
import subprocess
import sys

import pytest

from keras_vae.native_logs import is_native_noise, quiet_native_logs

NATIVE_LINE = re.compile(r"^[IWE]\d{4} \d+:\d+:\d+\.\d+\s+\d+ \S+:\d+\]", re.M)
CUINIT = b"E0000 00:00:1796128016.129030   29995 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"


def keras_vae(tmp_path, *args):
    """Runs the installed console script (as a user does); returns (exit code, stderr)."""
    script = os.path.join(os.path.dirname(sys.executable), "keras-vae")
    done = subprocess.run([script, *args], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})
    return done.returncode, done.stderr


@pytest.mark.slow(reason="runs the command line in subprocesses")
def test_command_line_is_quiet_by_default_and_verbose_on_request(tmp_path):
    # `export` of a missing run imports TensorFlow (which logs at once), then fails with a message.
    code, quiet = keras_vae(tmp_path, "export", "no-run", "--out", "out")
    assert code == 2
    assert quiet.strip().splitlines() == [
        "keras-vae export: error: run directory no-run not found (it does not exist or is no directory); "
        "pass the --out directory of keras-vae train."
    ]
    code, verbose = keras_vae(tmp_path, "export", "no-run", "--out", "out", "--verbose")
    assert code == 2 and NATIVE_LINE.search(verbose), verbose
    assert "keras-vae export: error: run directory no-run not found" in verbose


def test_filter_drops_only_native_noise(capfd):
    with quiet_native_logs():
        os.write(2, CUINIT)
        os.write(2, b"I0000 00:00:1796127458.341296   20001 reader.cc:83] Reading SavedModel from: /x\n")
        os.write(2, b"E0000 00:00:1796127458.341296   20001 kernel.cc:1] a real kernel error\n")
        os.write(2, b"Traceback (most recent call last):\n  ValueError: kept\n")
    err = capfd.readouterr().err
    assert err == "E0000 00:00:1796127458.341296   20001 kernel.cc:1] a real kernel error\n" \
                  "Traceback (most recent call last):\n  ValueError: kept\n"
    assert is_native_noise(CUINIT.rstrip()) and not is_native_noise(b"keras-vae export: error: x")
