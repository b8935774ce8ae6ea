"""Run the web server and the queue cluster side by side until Ctrl-C (for `serve` and `demo`)."""

import os
import signal
import subprocess
import sys
import time


def run_web_and_queue(*, address, extra_env=None, out=print):
    """Start `runserver` and `qcluster` as children; stop both when either ends or on Ctrl-C."""
    env = {**os.environ, **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
    manage = [sys.executable, "manage.py"]
    children = [
        subprocess.Popen([*manage, "runserver", "--noreload", "--insecure", address], env=env),
        subprocess.Popen([*manage, "qcluster"], env=env),
    ]
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        out("a process stopped; shutting down")
    except KeyboardInterrupt:
        out("stopping…")
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
