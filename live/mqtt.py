"""One way to reach a broker from a URL: ``mqtt://[user:password@]host[:port]``, or ``mqtts://`` for
TLS (port 8883 by default; ``?ca=/path/ca.pem`` names the CA that signed the broker's certificate,
``&cert=…&key=…`` a client certificate; without ``ca`` the system's CAs are trusted).

>>> broker_address("mqtt://twin:secret@10.0.0.5")
('10.0.0.5', 1883, 'twin', 'secret')
"""
from __future__ import annotations

import threading
from typing import Self
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from twin.errors import InputError

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
TLS_OPTIONS = ("ca", "cert", "key")


def broker_address(url: str) -> tuple[str, int, str | None, str | None]:
    """``mqtt://user:password@host:port`` → host, port, user, password."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise InputError(f"broker url {url!r}: expected mqtt://host[:port] or mqtts://host[:port]")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise InputError(f"broker url {url!r}: the port is not a number") from None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.hostname, port, user, password


def mqtt_client(url: str, client_id: str = "") -> mqtt.Client:
    """A paho (callback API 2, MQTT v5) client with the URL's credentials and TLS, not yet connected."""
    broker_address(url)  # refuse a bad URL with its reason
    parts = urlsplit(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if parts.username:
        client.username_pw_set(unquote(parts.username), unquote(parts.password) if parts.password else None)
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = sorted(set(options) - set(TLS_OPTIONS))
    if unknown:
        raise InputError(f"broker url {url!r}: unknown option {unknown[0]!r} (known: {', '.join(TLS_OPTIONS)})")
    if parts.scheme == "mqtts":
        client.tls_set(ca_certs=options.get("ca"), certfile=options.get("cert"), keyfile=options.get("key"))
    elif options:
        raise InputError(f"broker url {url!r}: {', '.join(options)} need mqtts://")
    return client


class MqttPart:
    """Something with an MQTT connection of its own that is ready once connected and subscribed:
    subclasses set ``_ready`` from their callbacks and give ``start`` and ``stop``."""

    def __init__(self) -> None:
        self._ready = threading.Event()

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def wait_ready(self, timeout_s: float) -> bool:
        """True once connected and subscribed; False when ``timeout_s`` passed first."""
        return self._ready.wait(timeout_s)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
