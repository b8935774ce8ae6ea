"""Run the web server (gunicorn) and the queue cluster side by side until Ctrl-C or SIGTERM
(for `serve` and `demo`): one supervisor that stops both cleanly."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.utils.translation import gettext

GRACE_SECONDS = 20
ROOT = Path(__file__).resolve().parent.parent


def run_web_and_queue(*, address=None, extra_env=None, out=print):
    """Start gunicorn (gunicorn.conf.py; `address` overrides GUNICORN_BIND) and `qcluster` as
    children; stop both when either ends, on Ctrl-C or SIGTERM.

    Each child leads its own process group, so stopping it also stops the workers it forked.
    """
    env = {**os.environ, **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
    web = [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py")]
    if address:
        web += ["--bind", address]
    signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop cleans up like Ctrl-C
    children = [
        subprocess.Popen(web, env=env, cwd=ROOT, start_new_session=True),
        subprocess.Popen([sys.executable, "manage.py", "qcluster"], env=env, cwd=ROOT, start_new_session=True),
    ]
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        out(gettext("a process stopped; shutting down"))
    except KeyboardInterrupt:
        out(gettext("stopping…"))
    finally:
        for name in (signal.SIGINT, signal.SIGTERM):
            signal.signal(name, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        _stop(children)


def _stop(children):
    for child in children:
        _signal_group(child, signal.SIGTERM)  # qcluster finishes its tasks; gunicorn its requests
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
