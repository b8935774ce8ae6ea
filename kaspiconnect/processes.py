"""Run the web server and the queue cluster side by side until Ctrl-C (for `serve` and `demo`)."""

import os
import signal
import subprocess
import sys
import time

GRACE_SECONDS = 20


def run_web_and_queue(*, address, extra_env=None, out=print):
    """Start `runserver` and `qcluster` as children; stop both when either ends, on Ctrl-C or SIGTERM.

    Each child leads its own process group, so stopping it also stops the workers it forked.
    """
    env = {**os.environ, **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
    manage = [sys.executable, "manage.py"]
    signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop cleans up like Ctrl-C
    children = [
        subprocess.Popen([*manage, "runserver", "--noreload", "--insecure", address], env=env,
                         start_new_session=True),
        subprocess.Popen([*manage, "qcluster"], env=env, start_new_session=True),
    ]
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        out("a process stopped; shutting down")
    except KeyboardInterrupt:
        out("stopping…")
    finally:
        for name in (signal.SIGINT, signal.SIGTERM):
            signal.signal(name, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        _stop(children)


def _stop(children):
    for child in children:
        _signal_group(child, signal.SIGTERM)  # qcluster finishes its tasks; runserver just ends
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        _signal_group(child, signal.SIGKILL)  # whatever of the group is still there


def _signal_group(child, signum):
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:
        pass


def _interrupt(signum, frame):
    raise KeyboardInterrupt
