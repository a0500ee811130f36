"""A private Mosquitto broker on a free localhost port, with persistence in a data folder.

>>> with Broker(Path("/tmp/twin-broker")) as broker:   # doctest: +SKIP
...     print(broker.url)
mqtt://127.0.0.1:41733
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

from twin.errors import InputError
from twin.ports import free_port

SEARCH_PATH = ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin")
LOG_TAIL_LINES = 8


def mosquitto_binary() -> Path:
    """The ``mosquitto`` executable on PATH or in the usual sbin folders."""
    found = shutil.which("mosquitto") or shutil.which(
        "mosquitto", path=os.pathsep.join(SEARCH_PATH))
    if not found:
        raise InputError("mosquitto: broker binary not found; install the 'mosquitto' package "
                         "(apt-get install mosquitto) or point twin at a broker with --broker")
    return Path(found)


class Broker:
    """A Mosquitto process: ``start()`` waits until it accepts connections, ``stop()`` saves and ends it."""

    host = "127.0.0.1"

    def __init__(self, data_dir: Path, port: int | None = None, start_timeout_s: float = 10.0):
        self.data_dir = Path(data_dir).resolve()
        if any(c.isspace() for c in str(self.data_dir)):
            raise InputError(f"broker data folder {self.data_dir}: Mosquitto's config cannot name a "
                             "path with spaces; choose another folder")
        self.port = port or free_port(self.host)
        self.start_timeout_s = start_timeout_s
        self.config_path = self.data_dir / "mosquitto.conf"
        self.log_path = self.data_dir / "mosquitto.log"
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _config(self) -> str:
        lines = [f"listener {self.port} {self.host}",
                 "allow_anonymous true",
                 "persistence true",
                 "max_queued_messages 100000",  # a twin catching up after a gap, a park's start-up burst
                 f"persistence_location {self.data_dir}/",
                 "log_dest stderr",
                 "log_type error", "log_type warning", "log_type notice", "log_type information",
                 "log_timestamp_format %Y-%m-%dT%H:%M:%S"]
        if os.geteuid() == 0:
            lines.append("user root")  # else Mosquitto drops to user 'mosquitto', who cannot write here
        return "\n".join(lines) + "\n"

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of the broker's log, joined with ' | ' to keep error messages on one line."""
        if not self.log_path.exists():
            return "(no log)"
        return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def start(self) -> Self:
        """Start Mosquitto and wait until it accepts connections; raise InputError with its log tail."""
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self._config(), encoding="utf-8")
        with self.log_path.open("ab") as log:
            log_start = log.tell()
            self._process = subprocess.Popen([str(mosquitto_binary()), "-c", str(self.config_path)],
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise InputError(f"mosquitto on port {self.port} exited with code {code}: {self.log_tail()}")
            if self._says_running(log_start) and self._accepts():
                return self
            time.sleep(0.02)
        self.stop()
        raise InputError(f"mosquitto on port {self.port} did not accept connections within "
                         f"{self.start_timeout_s:g} s: {self.log_tail()}")

    def _says_running(self, log_start: int) -> bool:
        """Whether this run's log reports its listeners open (another process may hold the port)."""
        with self.log_path.open("rb") as log:
            log.seek(log_start)
            return b" running" in log.read()

    def _accepts(self) -> bool:
        try:
            socket.create_connection((self.host, self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def stop(self, timeout_s: float = 10.0) -> None:
        """End the broker with SIGTERM (it saves its persistence file), killing it if it hangs."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def restart(self) -> Self:
        """Stop and start again on the same port with the same persistence."""
        self.stop()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
