"""Exclusive locks on the directories keras-vae writes: one writer at a time, stale locks taken over.

A lock is a small file (`OwnerLock(path)`) that holds its owner's pid, host, command
and start time, and on which the owner holds an exclusive `fcntl.flock`. The kernel
drops an flock when its process dies, however it dies (SIGKILL, a crash), so a lock
file left behind by a dead process is stale by construction: the next writer takes
it over. A live owner's lock refuses everyone else with `LockHeld`, whose message
names the owner.
"""

import contextlib
import datetime
import fcntl
import json
import os
import socket
import sys
import time

# `check_unlocked` holds a shared flock for an instant; an `acquire` that meets one tries again.
_ATTEMPTS, _PAUSE_SECONDS = 5, 0.05


class LockHeld(FileExistsError):
    """Another live process holds the lock; the message names it (pid, host, command, since when)."""


def _held(path):
    owner = read_owner(path)
    who = "another process" if not owner else (
        f"{owner.get('command', 'a keras-vae command')} (pid {owner.get('pid', '?')} on host "
        f"{owner.get('host', '?')}, since {owner.get('since', '?')})"
    )
    return LockHeld(
        f"{os.path.dirname(os.path.abspath(path))} is locked by {who}, which is writing there now. Wait for it "
        f"to finish, or choose another destination. (The lock is {path}; it is released when that process ends, "
        "even if it is killed.)"
    )


class OwnerLock:
    """An exclusive, crash-safe lock held through the file `path` (created if missing).

    Args:
        path: str. The lock file; its directory must exist.
        command: str. What the owner is doing, for the message others get, e.g. "keras-vae train".

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), ".lock")
    >>> with OwnerLock(path, "an example") as lock:
    ...     OwnerLock(path, "a second writer").acquire()
    Traceback (most recent call last):
    ...
    keras_vae.locking.LockHeld: ... is locked by an example (pid ...
    >>> os.path.exists(path)  # released: the file is gone
    False
    """

    def __init__(self, path, command):
        self.path = os.fspath(path)
        self.command = command
        self.stale_owner = None  # the owner recorded in a stale lock file this lock took over
        self._fd = None

    def acquire(self):
        """Takes the lock; raises LockHeld naming the owner when a live process holds it. Returns self."""
        attempts = _ATTEMPTS
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                attempts -= 1
                if attempts == 0:
                    raise _held(self.path) from None
                time.sleep(_PAUSE_SECONDS)
                continue
            # The previous owner unlinks the file before it unlocks it: a lock taken on a file
            # that is no longer at `path` protects nothing, so take a fresh one.
            try:
                current = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if current:
                break
            os.close(fd)
        self.stale_owner = _parse_owner(os.read(fd, 4096))
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": self.command,
            "since": datetime.datetime.now().isoformat(timespec="seconds"),
            "argv": sys.argv,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode("utf-8"), 0)
        self._fd = fd
        return self

    def release(self):
        """Removes the lock file and unlocks it (in that order: see `acquire`)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()


def _parse_owner(data):
    try:
        owner = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def read_owner(path):
    """Returns the owner record (pid, host, command, since) in the lock file `path`, or None."""
    try:
        with open(path, "rb") as f:
            return _parse_owner(f.read(4096))
    except OSError:
        return None


def check_unlocked(path):
    """Raises LockHeld (naming the owner) when a live process holds the lock file `path`; creates nothing.

    Example:
    >>> check_unlocked("/nonexistent/.lock")  # no lock file: nobody holds it
    """
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _held(path) from None
    finally:
        os.close(fd)


__all__ = ["LockHeld", "OwnerLock", "check_unlocked", "read_owner"]
