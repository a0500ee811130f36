"""Broker URLs: credentials, TLS options, and one-line refusals."""
from __future__ import annotations

import ssl

import pytest

from live.mqtt import broker_address, mqtt_client
from twin.errors import InputError


def test_urls_give_host_port_and_credentials():
    assert broker_address("mqtt://twin:s%40cret@10.0.0.5") == ("10.0.0.5", 1883, "twin", "s@cret")
    assert broker_address("mqtts://broker.park.cn") == ("broker.park.cn", 8883, None, None)
    assert broker_address("mqtt://localhost:1884")[1] == 1884


def test_mqtts_turns_tls_on_with_the_system_cas():
    client = mqtt_client("mqtts://broker.park.cn", "t1")
    assert client._ssl_context is not None and client._ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert mqtt_client("mqtt://broker.park.cn", "t2")._ssl_context is None


@pytest.mark.parametrize("url, cause", [
    ("http://localhost", "expected mqtt://host"),
    ("mqtt://localhost:port", "the port is not a number"),
    ("mqtt://localhost?ca=/etc/ca.pem", "need mqtts://"),
    ("mqtts://localhost?cafile=/etc/ca.pem", "unknown option 'cafile'"),
])
def test_bad_urls_are_refused_in_one_line(url, cause):
    with pytest.raises(InputError, match=cause) as refused:
        mqtt_client(url)
    assert "\n" not in str(refused.value)
