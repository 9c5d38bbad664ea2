"""Keeps TensorFlow's C++ start-up and converter log lines off a user's terminal.

TensorFlow 2.21 writes them from C++ straight to file descriptor 2, before and regardless of
TF_CPP_MIN_LOG_LEVEL for the start-up ones ("oneDNN custom operations are on", "Could not find
cuda drivers", a red "failed call to cuInit" on a machine without a GPU, XLA service lines, the
TFLite converter's "Reading SavedModel from ..."). `quiet_native_logs()` points descriptor 2 at
a pipe for the duration of a command and forwards every line except those (`is_native_noise`),
so Python's own warnings, errors and tracebacks still reach the terminal. The `keras-vae`
command turns it on before TensorFlow's import (`install_for_command_line`, called from
keras_vae/__init__.py, which does nothing for other programs); `keras-vae --verbose` skips it.
"""

import atexit
import contextlib
import os
import re
import sys
import threading

# absl/TF C++ log lines: a severity letter, MMDD, a time, a thread id, file:line].
_NATIVE_LINE = re.compile(rb"^[IWE]\d{4} \d+:\d+:\d+\.\d+\s+\d+ [\w./-]+:\d+\]")
_NOISE = (
    re.compile(rb"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"),
    re.compile(rb"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."),
    re.compile(rb"^To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\."),
    re.compile(rb"^fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, output_inference_type: \w+"),
)


def is_native_noise(line):
    """True for a line (bytes) of TensorFlow's native logging that `quiet_native_logs` drops.

    Info and warning lines of the C++ logger, its error lines about CUDA (there is no GPU), and
    the few fixed start-up and converter lines; other native errors are kept.

    Example:
    >>> is_native_noise(b"E0000 00:00:1796127455.163784   20001 cuda_platform.cc:52] failed call to cuInit: ...")
    True
    >>> is_native_noise(b"Traceback (most recent call last):")
    False
    """
    if _NATIVE_LINE.match(line):
        return not line.startswith(b"E") or b"cuInit" in line or b"CUDA" in line or b"cuda" in line
    return any(pattern.match(line) for pattern in _NOISE)


class _Filter:
    """Descriptor `fd` redirected into a pipe whose reader thread forwards all but the noise."""

    def __init__(self, fd):
        self.fd = fd
        sys.stderr.flush()
        self.saved = os.dup(fd)
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        self.thread = threading.Thread(target=self._forward, args=(read_end,), name="quiet-native-logs", daemon=True)
        self.thread.start()

    def _forward(self, read_end):
        pending = b""
        with os.fdopen(read_end, "rb", buffering=0) as source:
            while True:
                chunk = source.read(65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                kept = b"".join(line + b"\n" for line in lines if not is_native_noise(line))
                if kept:
                    os.write(self.saved, kept)
        if pending and not is_native_noise(pending):
            os.write(self.saved, pending)

    def stop(self):
        try:
            sys.stderr.flush()
        except ValueError:
            pass
        os.dup2(self.saved, self.fd)  # closes the pipe's last write end: the thread sees EOF
        self.thread.join(timeout=5)
        os.close(self.saved)


_active = None  # the process-wide filter of `install_for_command_line`, if any


@contextlib.contextmanager
def quiet_native_logs(stream_fd=2):
    """Filters TensorFlow's native log lines out of file descriptor `stream_fd` while the block runs.

    Everything else written to the descriptor (Python's stderr, subprocesses that inherit it)
    is forwarded unchanged, line by line. Does nothing when the process-wide filter is on.
    """
    if _active is not None:
        yield
        return
    try:
        active = _Filter(stream_fd)
    except (OSError, ValueError):  # no real descriptor (an embedding host): nothing to filter
        yield
        return
    try:
        yield
    finally:
        active.stop()


def install_for_command_line(argv=None):
    """Starts the filter for the rest of the process when it is the `keras-vae` command.

    Called by `keras_vae/__init__.py` before TensorFlow is imported, since the import itself
    logs. Applies only when the program is the `keras-vae` console script or `python -m
    keras_vae`, and not with `--verbose`; stops at exit, after any traceback is printed.
    """
    global _active
    argv = sys.argv if argv is None else argv
    if _active is not None or not argv or "--verbose" in argv[1:]:
        return False
    program = os.path.basename(argv[0])
    if program not in ("keras-vae", "-m") and not argv[0].endswith(os.path.join("keras_vae", "__main__.py")):
        return False
    try:
        _active = _Filter(2)
    except (OSError, ValueError):
        return False
    atexit.register(_active.stop)
    return True
