"""Pipe networks in 3D (issue 6, item 2): utility colours, flow arrows, exaggerated pipes, node
models by type, and the viewer's utility and exaggeration switches in headless Chromium.

Pipes and nodes are real GeoJSON files read by the importer; the browser test runs the demo park.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from conftest import ROOT, needs_chromium
from gis.importer import add_layer
from gis.layers import LayerSpec
from gis.pipes import EXAGGERATED_MIN_RADIUS_M, EXAGGERATION
from gis.roles import UTILITIES, UTILITY_RGB
from models.network import COVER_TOP_M, HYDRANT_HEIGHT_M, HYDRANT_RGB, NODE_MODELS, generic, node_model
from test_viewer import open_app, settle, shot
from twin.cache import compile_scene
from twin.errors import InputError
from twin.park import Park
from twin.web.server import BackgroundServer
from twin.web.viewport import manifest

GROUND_M = 4.0  # the park origin's height too, so park-frame z is height above the ground
CJJ_61_2017 = {"water": (0, 255, 255), "rain": (76, 57, 38), "sewage": (76, 57, 38), "gas": (255, 0, 255),
               "heat": (255, 128, 0), "power": (255, 0, 0), "telecom": (0, 255, 0), "industrial": (0, 0, 0),
               "unknown": (102, 0, 204)}


@pytest.fixture(scope="module")
def demo():
    return compile_scene(ROOT / "scenes" / "demo")


def pipes_park(tmp_path, rows: list[dict], fields: dict[str, str] | None = None) -> Park:
    """A park of one pipes layer: ``rows`` with a ``geometry`` each, written to GeoJSON and imported."""
    path = tmp_path / "pipes.geojson"
    gpd.GeoDataFrame([{k: v for k, v in r.items() if k != "geometry"} for r in rows],
                     geometry=[r["geometry"] for r in rows], crs="EPSG:4549").to_file(path)
    park = Park("p", origin_m=(0.0, 0.0, GROUND_M), crs="EPSG:4549")
    columns = {k for r in rows for k in r} - {"code", "geometry"}
    add_layer(park, LayerSpec("pipes", path, "pipes", "code", fields=fields or {c: c for c in columns}),
              ground_z_m=GROUND_M)
    return park


def cells(park: Park, category: str, node_id: str) -> np.ndarray:
    """The triangles ``(m, 3, 3)`` of one node in the batch of ``category``."""
    batch = next(b for b in park.batches if b.category == category)
    return batch.points_m[batch.triangles[batch.cell_node == batch.node_ids.index(node_id)]].astype(float)


def arrow_directions(park: Park, category: str, node_id: str) -> np.ndarray:
    """Each flow arrow's unit direction: from the middle of its cone's points to its tip."""
    cones = cells(park, category, node_id).reshape(-1, 16 * 3, 3)  # an 8-sided cone: 16 triangles
    out = []
    for cone in cones:
        points = np.unique(cone, axis=0)
        middle = points.mean(axis=0)
        tip = points[np.argmax(np.linalg.norm(points - middle, axis=1))]
        out.append((tip - middle) / np.linalg.norm(tip - middle))
    return np.array(out)


# --- colours ------------------------------------------------------------------------------------
def test_every_utility_has_its_cjj_colour_in_the_demo_park(demo):
    assert UTILITY_RGB == CJJ_61_2017 and set(UTILITIES) == set(CJJ_61_2017)
    entries = [e for e in manifest(demo.batches) if e["category"].split(":")[0] in
               ("pipes", "pipes_x5", "arrows", "arrows_x5", "network_nodes")]
    families = {(e["category"].split(":")[0], e["category"].split(":")[1]) for e in entries}
    for utility in ("water", "gas", "heat", "rain", "sewage", "power", "telecom"):
        assert {("pipes", utility), ("pipes_x5", utility), ("network_nodes", utility)} <= families, utility
    assert {u for f, u in families if f == "arrows"} == {"rain", "sewage"}, "the demo gives flow by inverts only"
    for entry in entries:
        family, utility, *node_type = entry["category"].split(":")
        expected = HYDRANT_RGB if node_type == ["hydrant"] else CJJ_61_2017[utility]
        assert tuple(entry["rgb"]) == expected and entry["opacity"] == 1.0, entry["category"]
    assert any(e["category"] == "network_nodes:water:hydrant" for e in entries), "hydrants keep their own red"


# --- flow arrows --------------------------------------------------------------------------------
def test_arrows_point_downhill_by_inverts_and_along_a_given_flow_direction(tmp_path):
    line = shapely.LineString([(0, 0), (60, 0)])
    park = pipes_park(tmp_path, [
        {"code": "down", "utility": "sewage", "invert_start_m": 2.5, "invert_end_m": 2.0, "geometry": line},
        {"code": "up", "utility": "rain", "invert_start_m": 2.0, "invert_end_m": 2.5, "geometry": line},
        {"code": "told", "utility": "rain", "invert_start_m": 2.0, "invert_end_m": 2.5, "flow_direction": "forward",
         "geometry": line},
        {"code": "back", "utility": "water", "flow_direction": "backward", "geometry": line},
        {"code": "reverse", "utility": "gas", "flow_direction": "-1", "geometry": line},
        {"code": "unknown", "utility": "water", "geometry": line},
    ])
    down = arrow_directions(park, "arrows:sewage", "gis:pipes:down")
    assert len(down) == 6, "about one arrow every 10 m"
    assert (down[:, 0] > 0.99).all() and (down[:, 2] < 0).all(), "from the higher invert to the lower"
    assert (arrow_directions(park, "arrows:rain", "gis:pipes:up")[:, 0] < -0.99).all()
    assert (arrow_directions(park, "arrows:rain", "gis:pipes:told")[:, 0] > 0.99).all(), "a given direction wins"
    assert (arrow_directions(park, "arrows:water", "gis:pipes:back")[:, 0] < -0.99).all()
    assert (arrow_directions(park, "arrows:gas", "gis:pipes:reverse")[:, 0] < -0.99).all()
    water = next(b for b in park.batches if b.category == "arrows:water")
    assert "gis:pipes:unknown" not in water.node_ids, "no arrow where the flow is not known"
    for category in ("arrows:sewage", "arrows_x5:sewage", "arrows:rain", "arrows_x5:rain"):
        batch = next(b for b in park.batches if b.category == category)
        assert batch.points_m[:, 2].max() < 0, f"{category}: the arrows stay underground"


def test_a_bad_flow_direction_is_named(tmp_path):
    with pytest.raises(InputError, match=r"pipes.geojson layer pipes: pipe P1: flow_direction 'uphill' is not one"):
        pipes_park(tmp_path, [{"code": "P1", "utility": "water", "flow_direction": "uphill",
                               "geometry": shapely.LineString([(0, 0), (10, 0)])}])


# --- exaggerated pipes --------------------------------------------------------------------------
def test_exaggerated_pipes_are_five_times_as_thick_and_at_least_30_cm(tmp_path):
    park = pipes_park(tmp_path, [
        {"code": f"DN{dn}", "utility": "water", "diameter_mm": dn, "depth_m": 2.0,
         "geometry": shapely.LineString([(0, 10 * i), (50, 10 * i)])} for i, dn in enumerate((50, 120, 300))])
    for i, dn in enumerate((50, 120, 300)):
        axis = np.array([10.0 * i, -2.0])  # y and z of the level pipe's axis
        true = np.hypot(*(cells(park, "pipes:water", f"gis:pipes:DN{dn}").reshape(-1, 3)[:, 1:] - axis).T)
        fat = np.hypot(*(cells(park, "pipes_x5:water", f"gis:pipes:DN{dn}").reshape(-1, 3)[:, 1:] - axis).T)
        assert true == pytest.approx(dn / 2000, abs=1e-6)  # float32 points
        assert fat == pytest.approx(max(EXAGGERATION * dn / 2000, EXAGGERATED_MIN_RADIUS_M), abs=1e-6)
        assert fat.min() >= EXAGGERATED_MIN_RADIUS_M - 1e-6
    assert EXAGGERATION == 5.0


# --- network node models ------------------------------------------------------------------------
NODE_TYPES = ("junction", "valve", "hydrant", "service", "source", "manhole", "outfall", "chamber",
              "tank", "reservoir", "pump", "no_such_type")


@pytest.fixture(scope="module")
def nodes_park(tmp_path_factory) -> Park:
    path = tmp_path_factory.mktemp("nodes") / "nodes.geojson"
    gpd.GeoDataFrame({"code": list(NODE_TYPES) + ["loose"], "node_type": list(NODE_TYPES) + ["junction"],
                      "utility": ["water"] * len(NODE_TYPES) + [None], "depth_m": 1.5},
                     geometry=[shapely.Point(5 * i, 0) for i in range(len(NODE_TYPES) + 1)],
                     crs="EPSG:4549").to_file(path)
    park = Park("p", origin_m=(0.0, 0.0, GROUND_M), crs="EPSG:4549")
    add_layer(park, LayerSpec("nodes", path, "network_nodes", "code",
                              fields={"node_type": "node_type", "utility": "utility", "depth_m": "depth_m"}),
              ground_z_m=GROUND_M)
    return park


def test_every_demo_and_epanet_node_type_has_a_model_and_others_a_plain_marker(demo):
    demo_types = set(gpd.read_file(ROOT / "scenes" / "demo" / "gis" / "network_nodes.geojson")["node_type"])
    assert demo_types == {"junction", "valve", "hydrant", "service", "source", "manhole", "outfall", "chamber"}
    assert demo_types | {"tank", "reservoir", "pump"} <= set(NODE_MODELS)
    def shape(model) -> tuple:
        return len(model.body.faces), *np.round(model.body.extents, 3)

    shapes = {t: shape(node_model(t)) for t in NODE_MODELS}
    assert len(set(shapes.values()) | {shape(generic())}) == len(shapes) + 1, "each type its own shape"
    assert shape(node_model("no_such_type")) == shape(generic()) == shape(node_model(None))


def test_node_models_sit_on_the_pipe_axis_and_reach_the_ground_where_they_should(nodes_park):
    top = {t: cells(nodes_park, "network_nodes:water", f"gis:nodes:{t}")[..., 2].max()
           for t in NODE_TYPES if t != "hydrant"}
    top["hydrant"] = cells(nodes_park, "network_nodes:water:hydrant", "gis:nodes:hydrant")[..., 2].max()
    assert top["manhole"] == pytest.approx(COVER_TOP_M) and top["chamber"] == pytest.approx(COVER_TOP_M)
    assert top["hydrant"] == pytest.approx(HYDRANT_HEIGHT_M), "a post hydrant on the ground above its main"
    for kind in ("junction", "valve", "service", "source", "outfall", "pump", "no_such_type"):
        assert top[kind] < 0, f"{kind}: underground"
    for kind in NODE_TYPES:
        batch = "network_nodes:water:hydrant" if kind == "hydrant" else "network_nodes:water"
        points = cells(nodes_park, batch, f"gis:nodes:{kind}").reshape(-1, 3)
        assert points[:, 2].min() < -1.5 < points[:, 2].max(), f"{kind}: around its pipes' axis 1.5 m down"
    shaft = cells(nodes_park, "network_nodes:water", "gis:nodes:manhole").reshape(-1, 3)
    assert np.isclose(np.hypot(shaft[:, 0] - 25.0, shaft[:, 1]), 0.5).any(), "a 1 m shaft"
    loose = next(b for b in nodes_park.batches if b.category == "network_nodes:unknown")
    assert loose.node_ids == ["gis:nodes:loose"], "a node without a utility is drawn as unknown"


# --- in the browser -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(demo, twin_home):
    with BackgroundServer(demo) as running:
        yield running


def count(image: np.ndarray, utility: str) -> int:
    """Pixels of a utility's colour, lit or shaded (water cyan, gas magenta)."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    if utility == "water":
        return int(((g > 110) & (b > 110) & (r < 0.4 * g) & (np.abs(g - b) < 0.25 * g)).sum())
    return int(((r > 110) & (b > 110) & (g < 0.4 * r) & (np.abs(r - b) < 0.25 * r)).sum())


def switch(page, control) -> None:
    """Click a control and wait until the viewport has applied the batch looks it sends, and drawn."""
    root = page.locator("[data-twin-viewport]").element_handle()
    page.evaluate("""r => { if (r.dataset.batchOps === undefined) { r.dataset.batchOps = '0';
        r.addEventListener('twin-applied', (e) => {
          if (e.detail.op === 'batches') r.dataset.batchOps = String(Number(r.dataset.batchOps) + 1); }); } }""", root)
    done = int(root.get_attribute("data-batch-ops"))
    control.click()
    page.wait_for_function("([r, done]) => Number(r.dataset.batchOps) > done", arg=[root, done], timeout=10_000)
    settle(page)


@needs_chromium
@pytest.mark.browser
def test_switching_a_utility_off_and_the_exaggeration_on_changes_the_view(browser, server, demo):
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    open_app(page, server.url)
    root = page.locator("[data-twin-viewport]")
    exaggerated = {b for b in demo.batches if b.category.split(":")[0] in ("pipes_x5", "arrows_x5")}
    shown = len(demo.batches) - len(exaggerated)
    assert int(root.get_attribute("data-shown")) == shown, "true-size pipes at first"
    switch(page, page.get_by_role("button", name="地面半透明（看地下）"))
    true_size = shot(page, "pipes_true_size")
    switch(page, page.get_by_role("button", name="管线加粗 ×5"))
    fat = shot(page, "pipes_exaggerated")
    assert count(fat, "gas") > 3 * count(true_size, "gas") > 0, "the exaggerated pipes show"
    assert int(root.get_attribute("data-shown")) == shown, "…instead of the true-size ones"
    water = [b for b in demo.batches if b.category.split(":")[1:2] == ["water"]
             and b.category.split(":")[0] in ("pipes_x5", "arrows_x5", "network_nodes")]
    assert count(fat, "water") > 500
    switch(page, page.get_by_text("给水", exact=True))
    assert int(root.get_attribute("data-shown")) == shown - len(water), "the water network's batches hidden"
    no_water = shot(page, "pipes_without_water")
    assert count(no_water, "water") < 0.02 * count(fat, "water"), "the water network is off"
    assert count(no_water, "gas") > 0.8 * count(fat, "gas"), "the gas network is still on"
    page.close()
