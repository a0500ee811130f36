"""The park scene graph built from real IFC files: tree, links, ids, queries, batches."""
from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from conftest import run_twin
from ifc.importer import import_ifc
from twin.batches import decode
from twin.park import KINDS, Node, Park


@pytest.fixture(scope="module")
def fzk(request):
    from conftest import IFC_DIR
    if not IFC_DIR.is_dir():
        pytest.skip(f"sample data folder {IFC_DIR} is absent")
    return import_ifc(IFC_DIR / "AC20-FZK-Haus.ifc")


@pytest.fixture(scope="module")
def hom():
    from conftest import IFC_DIR
    if not IFC_DIR.is_dir():
        pytest.skip(f"sample data folder {IFC_DIR} is absent")
    return import_ifc(IFC_DIR / "bim2sim_ExampleHOM.ifc")


def test_tree_is_whole(fzk):
    for node in fzk:
        assert node.kind in KINDS
        if node.id != "park":
            assert node.parent in fzk and node.id in fzk.get(node.parent).children
    site, = fzk.of_kind("site")
    building, = fzk.of_kind("building")
    assert building.parent == site.id
    assert {fzk.get(s.parent).kind for s in fzk.of_kind("storey")} == {"building"}
    assert {fzk.get(s.parent).kind for s in fzk.of_kind("space")} == {"storey"}


def test_ids_are_namespaced_globalids_and_stable(fzk, sample):
    model = fzk.sources["ifc:"]
    assert {n.id for n in fzk if n.id != "park"} == {f"ifc:{e.GlobalId}" for e in model.by_type("IfcRoot")
                                                      if f"ifc:{e.GlobalId}" in fzk}
    again = import_ifc(sample("AC20-FZK-Haus.ifc"))
    assert set(again.nodes) == set(fzk.nodes)
    assert {i: again.get(i).parent for i in again.nodes} == {i: fzk.get(i).parent for i in fzk.nodes}


def test_storey_elevations_and_names(fzk):
    storeys = {s.name: s for s in fzk.of_kind("storey")}
    assert set(storeys) == {"Erdgeschoss", "Dachgeschoss"}
    assert storeys["Erdgeschoss"].elevation_m == pytest.approx(0.0)
    assert storeys["Dachgeschoss"].elevation_m == pytest.approx(2.7)


def test_elements_link_to_storey_and_building(fzk):
    elements = fzk.of_kind("element")
    assert elements and all("storey" in e.links and "building" in e.links for e in elements)
    for e in elements:
        assert fzk.ancestor(e.id, "storey").id == e.links["storey"]


def test_spaces_have_long_names_and_quantities(fzk):
    spaces = fzk.of_kind("space")
    assert len(spaces) == 7 and all(s.long_name for s in spaces)
    areas = [v for s in spaces for name, qto in s.properties.items() for k, v in qto.items()
             if "Area" in k and isinstance(v, float)]
    assert areas and all(a > 0 for a in areas)


def test_properties_are_read_on_demand(fzk):
    wall = fzk.of_class("IfcWallStandardCase")[0]
    assert "properties" not in wall.__dict__
    assert wall.properties["Pset_WallCommon"]["IsExternal"] in (True, False)
    assert "properties" in wall.__dict__


def test_find_by_name_is_case_insensitive_substring(fzk):
    assert {n.name for n in fzk.find("DACHGESCHOSS")} == {"Dachgeschoss"}
    doors = fzk.find("tuer")
    assert doors and all("tuer" in n.search_text() for n in doors)
    assert fzk.find("no such thing at all") == []


def test_find_chinese_and_fullwidth():
    park = Park("园区")
    park.add(Node("dev:CAM-01", "device", "东门摄像机", parent="park", code="CAM-01", type_name="摄像机"))
    park.add(Node("dev:HYD-07", "device", "消火栓 7", parent="park", code="HYD-07", type_name="Hydrant"))
    assert [n.id for n in park.find("摄像")] == ["dev:CAM-01"]
    assert [n.id for n in park.find("ｃａｍ－０１")] == ["dev:CAM-01"]  # full-width input
    assert [n.id for n in park.find("hydrant")] == ["dev:HYD-07"]


def test_by_kind_class_and_property(fzk):
    assert len(fzk.of_class("ifcdoor")) == 5
    external = fzk.with_property("IsExternal", True, pset="Pset_WallCommon", among=fzk.of_kind("element"))
    internal = fzk.with_property("IsExternal", False, pset="Pset_WallCommon", among=fzk.of_kind("element"))
    assert external and internal and not set(external) & set(internal)


def test_everything_in_a_storey(fzk):
    ground = next(s for s in fzk.of_kind("storey") if s.name == "Erdgeschoss")
    inside = list(fzk.descendants(ground.id))
    assert {n.kind for n in inside} == {"space", "element"}
    assert all(fzk.ancestor(n.id, "storey") is ground for n in inside)


def test_elements_get_their_space(hom):
    """Linked by the file (containment, space boundaries) or else by geometry (centre inside)."""
    model = hom.sources["ifc:"]
    said = {(f"ifc:{r.RelatedBuildingElement.GlobalId}", f"ifc:{r.RelatingSpace.GlobalId}")
            for r in model.by_type("IfcRelSpaceBoundary") if r.RelatedBuildingElement}
    said |= {(f"ifc:{e.GlobalId}", f"ifc:{r.RelatingStructure.GlobalId}")
             for r in model.by_type("IfcRelContainedInSpatialStructure") for e in r.RelatedElements}
    linked = [e for e in hom.of_kind("element") if "space" in e.links]
    by_geometry = [e for e in linked if (e.id, e.links["space"]) not in said]
    assert linked
    for e in by_geometry:
        b, c = hom.get(e.links["space"]).bounds_m, e.centre_m
        assert b[0] <= c[0] <= b[3] and b[1] <= c[1] <= b[4] and b[2] - 0.05 <= c[2] <= b[5]


def test_spatial_queries(fzk):
    door = fzk.of_class("IfcDoor")[0]
    assert fzk.nearest(door.centre_m, 1, kind="element")[0] is door
    near = fzk.within_radius(door.centre_m, 3.0)
    assert near[0] is door and all(np.linalg.norm(n.centre_m - door.centre_m) <= 3.0 for n in near)
    x, y = door.centre_m[:2]
    square = shapely.box(x - 1, y - 1, x + 1, y + 1)
    inside = fzk.within_polygon(square, kind="element")
    assert door in inside
    assert all(square.contains(shapely.Point(n.centre_m[:2])) for n in inside)
    assert len(fzk.nearest(door.centre_m, 5, kind="space")) == 5


def test_breadcrumb_path(fzk):
    door = fzk.of_class("IfcDoor")[0]
    assert [n.kind for n in fzk.path(door.id)][:4] == ["park", "site", "building", "storey"]


def test_batches_cover_every_shape_once(fzk):
    assert fzk.batches
    seen: list[str] = []
    for batch in fzk.batches:
        header, points, triangles, cell_node = decode(batch.payload)
        assert header["node_ids"] == batch.node_ids and len(cell_node) == len(triangles)
        assert triangles.max() < len(points) and set(np.unique(cell_node)) == set(range(len(batch.node_ids)))
        seen += batch.node_ids
        if batch.storey:
            assert all(fzk.get(i).links.get("storey", i) == batch.storey for i in batch.node_ids)
    assert len(seen) == len(set(seen))
    assert {n.id for n in fzk if n.bounds_m is not None and n.kind in ("element", "space")} <= set(seen)
    # one batch per building × storey × category: the count does not grow with elements
    assert len(fzk.batches) <= 1 + len(fzk.of_kind("storey")) * 11
    assert len({b.digest for b in fzk.batches}) == len(fzk.batches)


def test_find_cli_json(sample):
    result = run_twin("find", sample("AC20-FZK-Haus.ifc"), "fenster", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows and all(list(r) == ["id", "kind", "ifc_class", "name", "path"] for r in rows)
    assert all(r["kind"] == "element" and r["ifc_class"] == "IfcWindow" for r in rows)
    assert all([list(p) for p in r["path"]] == [["id", "name"]] * len(r["path"]) for r in rows)
    assert rows[0]["path"][0]["id"] == "park"


def test_rooms_know_the_elements_that_bound_them(fzk):
    """FZK-Haus carries IfcRelSpaceBoundary: each door bounds the rooms it opens into."""
    model = fzk.sources["ifc:"]
    for space in fzk.of_kind("space"):
        said = {f"ifc:{r.RelatedBuildingElement.GlobalId}" for r in model.by_type("IfcRelSpaceBoundary")
                if r.RelatingSpace.GlobalId == space.id.removeprefix("ifc:") and r.RelatedBuildingElement
                and f"ifc:{r.RelatedBuildingElement.GlobalId}" in fzk}  # virtual elements are no nodes
        assert {n.id for n in fzk.boundaries_of(space.id)} == said
    doors = [d for s in fzk.of_kind("space") for d in fzk.boundaries_of(s.id, "IfcDoor")]
    assert doors and all(d.ifc_class == "IfcDoor" for d in doors)
