"""What a visitor's session is sent: no camera or access-control geometry, in the manifest or the
batches it may fetch; the rest of the park as for everyone."""
from __future__ import annotations

from twin.roles import ROLES
from twin.web.access import Principal
from twin.web.deltas import node_index
from twin.web.geometry import GeometryStore
from twin.web.navigator import Navigator
from twin.web.viewport import Viewport, manifest
from twin.web.visibility import SECURITY, batch_permission

TOUR = Principal("visitor-guide", ROLES["tour"])
MONITOR = Principal("operator", ROLES["monitor"])


def test_a_tour_session_is_sent_no_security_batch_and_may_fetch_none(demo):
    security = [i for i, b in enumerate(demo.batches) if b.category in ("devices:camera", "devices:access_door")]
    assert security, "the demo park has cameras and access doors"
    entries = manifest(demo.batches, TOUR.may)
    withheld = [i for i, e in enumerate(entries) if e.get("withheld")]
    assert withheld == security
    assert all(not entries[i]["url"] and not entries[i]["digest"] and entries[i]["category"] == "withheld"
               for i in withheld), "a withheld entry says nothing of its batch"
    assert len(entries) == len(demo.batches), "batch numbers keep their meaning"
    assert not [e for e in manifest(demo.batches, MONITOR.may) if e.get("withheld")], "a monitor sees them all"

    store = GeometryStore(demo.batches)
    camera = demo.batches[security[0]]
    assert store.permissions[camera.digest] == SECURITY and not TOUR.may(SECURITY) and MONITOR.may(SECURITY)
    assert batch_permission("devices:smoke_detector") == "geometry.read"


def test_the_navigator_of_a_tour_session_offers_no_withheld_layer(demo):
    viewport = Viewport(node_index(demo), batches=manifest(demo.batches, TOUR.may))
    layers = Navigator(demo, viewport).layers.options.values()
    assert "withheld" not in layers and "devices" in layers
