"""One run of a job at a time: a PostgreSQL advisory lock across machines, a file lock otherwise."""

import fcntl
import zlib
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection


class JobBusy(Exception):
    """Another run of the same job holds the lock."""


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
    key = zlib.crc32(f"kaspiconnect:{name}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        if not cursor.fetchone()[0]:
            raise JobBusy(f"{name} is already running")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


@contextmanager
def _file_lock(name):
    path = Path(settings.STATE_DIR) / f"lock-{name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JobBusy(f"{name} is already running") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
