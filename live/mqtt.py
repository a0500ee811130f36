"""One way to reach a broker from a URL: ``mqtt://[user:password@]host[:port]``, or ``mqtts://`` for
TLS (port 8883 by default; ``?ca=/path/ca.pem`` names the CA that signed the broker's certificate,
``&cert=…&key=…`` a client certificate; without ``ca`` the system's CAs are trusted).

>>> broker_address("mqtt://twin:secret@10.0.0.5")
('10.0.0.5', 1883, 'twin', 'secret')
"""
from __future__ import annotations

import logging
import threading
from typing import Self
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties

from twin.errors import InputError

log = logging.getLogger(__name__)

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
    """Something with an MQTT connection of its own, ready once connected and subscribed to
    ``filters``: subclasses set ``host``, ``port`` and ``filters``, subscribe on connect, register
    :meth:`_on_subscribe` and :meth:`_on_disconnect`, and give ``start`` and ``stop``."""

    host: str
    port: int
    filters: list[str]

    def __init__(self) -> None:
        self._ready = threading.Event()

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int,
                      reasons: list[mqtt.ReasonCode], properties: Properties | None) -> None:
        refused = [f"{topic} ({reason})" for topic, reason in zip(self.filters, reasons) if reason.is_failure]
        if refused:
            log.warning("mqtt %s:%s refused subscriptions: %s", self.host, self.port, ", ".join(refused))
        self._ready.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: mqtt.DisconnectFlags,
                       reason: mqtt.ReasonCode, properties: Properties | None) -> None:
        self._ready.clear()
        log.info("mqtt %s:%s disconnected: %s", self.host, self.port, reason)

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
