"""Worker processes end with the process that started them, however it ends."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from conftest import ROOT

PARENT = """
from twin.workers import Worker
print(Worker().submit(__import__("os").getpid).result(), flush=True)
__import__("time").sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def test_a_worker_ends_when_its_server_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    try:
        assert worker != parent.pid and alive(worker)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(worker), "the worker outlived its server"
    finally:
        parent.kill()
        if alive(worker):
            os.kill(worker, signal.SIGKILL)
