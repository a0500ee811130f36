"""What a visitor's session is sent: no camera or access-control geometry, in the manifest or the
batches it may fetch; the rest of the park as for everyone. Personal data masked for roles without
``personal.read``."""
from __future__ import annotations

from twin.park import Node, Park
from twin.roles import ROLES
from twin.web.access import Principal
from twin.web.deltas import node_index
from twin.web.geometry import GeometryStore
from twin.web.info import node_card, node_record
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


def test_personal_data_is_masked_for_roles_that_do_not_need_it():
    park = Park("p")
    park.add(Node("room", "space", "101", parent="park", properties_loader=lambda: {
        "租户 Tenant": {"tenant": "启明光电有限公司", "联系人": "张伟", "手机": "138 1234 5678",
                        "contact_email": "zhang.wei@example.com", "area_m2": 30.5}}))
    shown = node_record(park, "room", MONITOR.may)["properties"]["租户 Tenant"]
    assert shown == {"tenant": "启明光电有限公司", "联系人": "张*", "手机": "138****5678",
                     "contact_email": "z" + "*" * 20, "area_m2": 30.5}
    commander = Principal("commander", ROLES["commander"])
    assert node_record(park, "room", commander.may)["properties"]["租户 Tenant"]["手机"] == "138 1234 5678"
    assert "张*" in node_card(park, "room", "zh", TOUR.may) and "张伟" not in node_card(park, "room", "zh", TOUR.may)
