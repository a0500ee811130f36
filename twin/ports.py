"""Free TCP ports for the servers twin starts (the web app, a private MQTT broker)."""
from __future__ import annotations

import socket

LOCALHOST = "127.0.0.1"


def free_port(address: str = LOCALHOST) -> int:
    """A TCP port nobody listens on at ``address`` right now."""
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]
