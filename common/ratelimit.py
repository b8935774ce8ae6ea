"""A minimum interval between calls, shared by every thread and process on this machine."""

import fcntl
import time
from pathlib import Path

from django.conf import settings


def wait_turn(name, interval):
    """Block until at least `interval` seconds have passed since the last call under `name`.

    Returns the moment (`time.time()`) this call took its turn, as the next call will count from it.

    The time of the last call lives in a small file under an exclusive `flock`, which also
    serialises threads of one process (each opens its own file description).
    """
    if interval <= 0:
        return time.time()
    path = Path(settings.STATE_DIR) / f"ratelimit-{name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as stamp:
        fcntl.flock(stamp, fcntl.LOCK_EX)
        stamp.seek(0)
        try:
            last = float(stamp.read() or 0)
        except ValueError:
            last = 0.0
        pause = last + interval - time.time()
        if pause > 0:
            time.sleep(min(pause, interval))
        now = time.time()
        stamp.seek(0)
        stamp.truncate()
        stamp.write(repr(now))
        stamp.flush()
    return now
