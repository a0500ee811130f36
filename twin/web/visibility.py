"""What a principal may see of the park: security devices (cameras, access control, intrusion
detectors…) need ``layer.security`` — in the geometry a session is sent, the batches it may fetch,
search results and node records; everything else needs ``geometry.read`` / ``node.read``.

A withheld batch keeps its place in the manifest (batch numbers index it) but carries nothing: no
URL, digest, key, category or size.
"""
from __future__ import annotations

from live.state import device_type
from twin.park import Node

SECURITY = "layer.security"
#: Registry types of the security devices a visitor's session never receives.
SECURITY_DEVICE_TYPES = frozenset({"camera", "access_door", "intrusion_detector", "alarm_button", "patrol_point",
                                   "barrier_gate", "perimeter_sensor"})


def batch_permission(category: str) -> str:
    """The permission a render batch of ``category`` needs (``devices:camera`` → ``layer.security``)."""
    kind, _, device = category.partition(":")
    return SECURITY if kind == "devices" and device in SECURITY_DEVICE_TYPES else "geometry.read"


def node_permission(node: Node) -> str:
    """The permission reading a node needs: ``layer.security`` for a security device."""
    return SECURITY if device_type(node) in SECURITY_DEVICE_TYPES else "node.read"
