"""One run of a job at a time: a PostgreSQL advisory lock across machines, a file lock otherwise."""

import fcntl
import os
import socket
import zlib
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils.translation import gettext


class JobBusy(Exception):
    """Another run of the same job holds the lock."""


def _busy(name):
    return JobBusy(gettext("%(name)s is already running") % {"name": name})


@contextmanager
def job_lock(name):
    """Hold the lock named `name` for the block, or raise `JobBusy` at once."""
    if connection.vendor == "postgresql":
        with _advisory_lock(name):
            yield
    else:
        with _file_lock(name):
            yield


@contextmanager
def _advisory_lock(name):
    """A session's advisory lock is reentrant: taken again in the same connection it is granted, so the
    keys this connection holds are kept, and a second taker is refused like one in another connection."""
    key = zlib.crc32(f"kaspiconnect:{name}".encode())
    held = _advisory_locks_held()
    if key in held:
        raise _busy(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        if not cursor.fetchone()[0]:
            raise _busy(name)
    held.add(key)
    try:
        yield
    finally:
        held.discard(key)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def _advisory_locks_held():
    """The keys this thread's connection (its own DatabaseWrapper) holds advisory locks on."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    if not hasattr(wrapper, "advisory_locks_held"):
        wrapper.advisory_locks_held = set()
    return wrapper.advisory_locks_held


@contextmanager
def _file_lock(name):
    path = Path(settings.STATE_DIR) / f"lock-{name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(name) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def holder_id():
    """Who is working on something now, for a row to record: this machine, process and its start.

    `holder_alive` later tells a holder that died (killed, crashed) from one still at work."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_started(pid)}"


def holder_alive(holder):
    """True or False for a holder on this machine; None when it is elsewhere (or unknown)."""
    host, _, rest = (holder or "").partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    return _started(int(pid)) == started  # a new process that got the same number is not the holder


def _started(pid):
    """The process's start time in clock ticks since boot (Linux), or "" where that is not known."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""
