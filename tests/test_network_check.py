"""The topology check of pipe networks (issue 6, item 3): a hand-made scene with known faults, the
demo park, wntr's example networks, and ``twin network check``."""
from __future__ import annotations

import json
from collections import Counter
from importlib.resources import files
from pathlib import Path

import networkx as nx
import pytest

from conftest import ROOT, run_twin
from twin.errors import InputError
from twin.networks.check import check
from twin.networks.epanet import read_inp
from twin.networks.scene import scene_networks
from twin.scene import read_scene

DEMO = ROOT / "scenes" / "demo"
ORIGIN = (640000.0, 3457000.0)
SCENE_TOML = f"""name = "管网检查 Network check"
crs = "EPSG:4549"
origin = [{ORIGIN[0]}, {ORIGIN[1]}, 4.0]

[[layers]]
key = "pipes"
path = "pipes.geojson"
role = "pipes"
id_field = "code"
[layers.fields]
utility = "utility"
diameter_mm = "diameter_mm"
depth_m = "depth_m"
invert_start_m = "invert_start_m"
invert_end_m = "invert_end_m"
material = "material"
start_node = "start_node"
end_node = "end_node"

[[layers]]
key = "nodes"
path = "nodes.geojson"
role = "network_nodes"
id_field = "code"
[layers.fields]
utility = "utility"
node_type = "node_type"
invert_m = "invert_m"
"""


def write_scene(folder: Path, nodes: list[tuple], pipes: list[dict]) -> Path:
    """A scene of one pipes and one nodes layer in EPSG:4549, coordinates given from the park origin.
    ``nodes``: (code, utility, node_type, x, y, properties); ``pipes``: properties plus ``xy`` (the
    line's vertices); a pipe has diameter 200 mm and material PVC unless it says otherwise, and no
    depth or inverts."""
    def feature(kind: str, coordinates, properties: dict) -> dict:
        return {"type": "Feature", "geometry": {"type": kind, "coordinates": coordinates}, "properties": properties}

    node_features = [feature("Point", [ORIGIN[0] + x, ORIGIN[1] + y],
                             {"code": code, "utility": utility, "node_type": kind, "invert_m": None, **extra})
                     for code, utility, kind, x, y, extra in nodes]
    pipe_features = [feature("LineString", [[ORIGIN[0] + x, ORIGIN[1] + y] for x, y in pipe["xy"]],
                             {"diameter_mm": 200, "material": "PVC", "depth_m": None, "invert_start_m": None,
                              "invert_end_m": None}
                             | {k: v for k, v in pipe.items() if k != "xy"})
                     for pipe in pipes]
    for name, features in (("nodes", node_features), ("pipes", pipe_features)):
        collection = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:4549"}},
                      "features": features}
        (folder / f"{name}.geojson").write_text(json.dumps(collection), encoding="utf-8")
    (folder / "scene.toml").write_text(SCENE_TOML, encoding="utf-8")
    return folder


def sewer(code: str, start: str | None, end: str | None, xy: list, **properties) -> dict:
    return {"code": code, "utility": "sewage", "start_node": start, "end_node": end, "xy": xy, **properties}


NODES = [
    # sewage: a tree draining to the outfall O; M7 is a low point with nothing leaving it
    ("O", "sewage", "outfall", 0, 0, {"invert_m": 1.0}), ("M1", "sewage", "manhole", 50, 0, {"invert_m": 1.5}),
    ("M2", "sewage", "manhole", 100, 0, {"invert_m": 2.0, "building": "B1"}),
    ("M3", "sewage", "manhole", 50, 50, {"invert_m": 2.2}), ("M4", "sewage", "manhole", 100, 50, {"invert_m": 2.5}),
    ("M5", "sewage", "manhole", 0, 50, {}), ("M6", "sewage", "manhole", 150, 50, {"invert_m": 2.6}),
    ("M7", "sewage", "manhole", 150, 100, {"invert_m": 1.0}),
    # water: R feeds J1 and a hydrant; J2-J3 lie apart from it; J4 is 0.3 m from J2 and meets no pipe
    ("R", "water", "source", 0, -50, {}), ("J1", "water", "junction", 50, -50, {}),
    ("H", "water", "hydrant", 100, -50, {}), ("J2", "water", "junction", 200, -50, {}),
    ("J3", "water", "junction", 250, -50, {}), ("J4", "water", "junction", 200.3, -50, {}),
    # power: a clean feeder to a building's service, and a spare duct C3-C4 joined to nothing
    ("P0", "power", "source", 0, -100, {}), ("C1", "power", "chamber", 50, -100, {}),
    ("C2", "power", "chamber", 100, -100, {}), ("K1", "power", "service", 100, -150, {"building": "B1"}),
    ("C3", "power", "chamber", 300, -100, {}), ("C4", "power", "chamber", 350, -100, {}),
]
PIPES = [
    sewer("S1", "M1", "O", [(50, 0), (0, 0)]), sewer("S2", "M2", "M1", [(100, 0), (50, 0)]),
    sewer("S3", "M3", "M1", [(50, 50), (50, 0)]),
    sewer("S4", "M4", "M3", [(100, 50), (50, 50)], flow_direction="forward", invert_start_m=2.0, invert_end_m=2.3),
    sewer("S5", "M2", "M1", [(100, 0), (50, 0)]),  # S2 drawn twice
    sewer("S6", "M-GONE", "M2", [(150, 0), (100, 0)], invert_start_m=2.4, invert_end_m=2.0),  # starts nowhere
    sewer("S7", "M5", "M3", [(0, 50), (50, 50)]),  # M5 has no invert
    sewer("S8", "M4", "M6", [(100, 50), (150, 50)]),  # drawn against its flow: M6 is higher
    sewer("S9", "M6", "M7", [(150, 50), (150, 100)]),
    {"code": "W1", "utility": "water", "start_node": "R", "end_node": "J1", "xy": [(0, -50), (50, -50)],
     "depth_m": 1.2},
    {"code": "W2", "utility": "water", "start_node": "J-NOPE", "end_node": "H", "xy": [(50, -50), (100, -50)],
     "depth_m": 1.2, "diameter_mm": None},
    {"code": "W3", "utility": "water", "start_node": "J2", "end_node": "J3", "xy": [(200, -50), (250, -50)],
     "depth_m": 1.2},
    *({"code": code, "utility": "power", "start_node": a, "end_node": b, "xy": xy, "depth_m": 0.8}
      for code, a, b, xy in (("E1", "P0", "C1", [(0, -100), (50, -100)]), ("E2", "C1", "C2", [(50, -100), (100, -100)]),
                             ("E3", "C2", "K1", [(100, -100), (100, -150)]),
                             ("E4", "C3", "C4", [(300, -100), (350, -100)]))),
]


@pytest.fixture(scope="module")
def faulty(tmp_path_factory) -> Path:
    return write_scene(tmp_path_factory.mktemp("faulty"), NODES, PIPES)


def found(report, network: str) -> dict[str, list]:
    """Each kind's findings of one network, as (severity, ids)."""
    out: dict[str, list] = {}
    for f in report.findings:
        if f.network == network:
            out.setdefault(f.kind, []).append((f.severity, f.ids))
    return out


def test_a_hand_made_sewer_shows_each_of_its_faults(faulty):
    report = check(scene_networks(read_scene(faulty)))
    p, n = "gis:pipes:", "gis:nodes:"
    assert found(report, "sewage") == {
        "dangling_end": [("warning", (f"{p}S6", f"{p}S6:start"))],
        "duplicate_pipe": [("error", (f"{p}S2", f"{p}S5"))],
        "uphill": [("error", (f"{p}S4",))],
        "no_outlet": [("error", (f"{n}M7",))],
        "unknown_flow": [("warning", (f"{p}S7",))],
        "missing_attribute": [("warning", (f"{p}S7",))],
        "join": [("warning", (f"{p}S6",))],
    }
    by_kind = {f.kind: f for f in report.findings if f.network == "sewage"}
    assert by_kind["dangling_end"].point_m == pytest.approx((150.0, 0.0))  # the park frame
    assert by_kind["uphill"].message == f"{p}S4 runs uphill: its invert is 2.300 m downstream, 2.000 m upstream"
    assert by_kind["missing_attribute"].message == f"{p}S7: no invert_start_m"
    assert by_kind["unknown_flow"].message.endswith("its inverts are missing and no flow_direction")
    assert by_kind["duplicate_pipe"].point_m == pytest.approx((75.0, 0.0))
    assert by_kind["join"].message == ("gis:pipes:S6: start_node 'M-GONE' is not a sewage network node "
                                       "(joined by position)")
    assert by_kind["join"].point_m == by_kind["dangling_end"].point_m  # at the end it names


def test_a_hand_made_water_network_shows_its_parts_duplicates_and_notes(faulty):
    report = check(scene_networks(read_scene(faulty)))
    p, n = "gis:pipes:", "gis:nodes:"
    assert found(report, "water") == {
        "disconnected": [("warning", (f"{n}J4",)), ("error", (f"{p}W3",))],
        "dangling_end": [("warning", (f"{p}W3", f"{n}J2")), ("warning", (f"{p}W3", f"{n}J3"))],
        "duplicate_node": [("warning", (f"{n}J2", f"{n}J4"))],
        "missing_attribute": [("warning", (f"{p}W2",))],
        "join": [("warning", (f"{p}W2",))],
    }
    messages = {f.kind: f.message for f in report.findings if f.network == "water"}
    assert messages["disconnected"] == f"1 pipe (e.g. {p}W3) not joined to the main part (2 pipes), with no source"
    assert messages["duplicate_node"] == (f"{n}J2 and {n}J4 are 0.30 m apart, under the 0.5 m tolerance, "
                                          "yet separate nodes")
    assert messages["missing_attribute"] == f"{p}W2: no diameter_mm"
    assert "start_node 'J-NOPE'" in messages["join"]
    # the spare power duct: its own part and two loose ends, warnings only (power has no sources to check)
    assert {kind: len(v) for kind, v in found(report, "power").items()} == {"disconnected": 1, "dangling_end": 2}
    assert (report.errors, report.warnings) == (4, 13)
    # every finding places itself for the overlay, and the JSON says the same
    assert all(f.point_m is not None for f in report.findings)
    data = report.to_json()
    assert data["errors"] == 4 and data["networks"]["sewage"] == {"pipes": 9, "nodes": 9}
    assert data["findings"][0] == {"network": "power", "kind": "disconnected", "severity": "warning",
                                   "ids": [f"{p}E4"], "message": f"1 pipe (e.g. {p}E4) not joined to the main "
                                   "part (3 pipes)", "x_m": 325.0, "y_m": -100.0}


def test_the_tolerance_decides_which_nodes_are_too_close(faulty):
    networks = scene_networks(read_scene(faulty), tolerance_m=0.2)
    assert "duplicate_node" not in found(check(networks, tolerance_m=0.2), "water")
    networks = scene_networks(read_scene(faulty), tolerance_m=1.0)
    assert len(found(check(networks, tolerance_m=1.0), "water")["duplicate_node"]) == 1
    one = check(networks, tolerance_m=1.0, network="water")
    assert {f.network for f in one.findings} == {"water"} and list(one.networks) == ["water"]
    with pytest.raises(InputError, match="'steam' is not one of the networks"):
        check(networks, network="steam")


def test_the_demo_park_is_clean():
    report = check(scene_networks(read_scene(DEMO)))
    assert report.findings == [] and report.errors == 0
    assert set(report.networks) == {"water", "gas", "heat", "rain", "sewage", "power", "telecom"}
    assert sum(n["pipes"] for n in report.networks.values()) == 907


def library_inp(name: str):
    return files("wntr.library.networks") / name


@pytest.mark.parametrize("inp", ["Net3.inp", "ky4.inp"])
def test_epanet_models_report_their_dead_ends_and_parts(inp):
    wntr = pytest.importorskip("wntr")
    wn = wntr.network.WaterNetworkModel(str(library_inp(inp)))
    for link in wn.pipe_name_list[::15]:  # cut the model into parts
        wn.remove_link(link)
    graph = wn.to_graph().to_undirected()
    from twin.networks.epanet import from_wntr

    report = check(from_wntr(wn, inp))
    kinds = Counter(f.kind for f in report.findings)
    dead_ends = {n for n in graph if graph.degree(n) == 1 and wn.get_node(n).node_type == "Junction"}
    assert {f.ids[1] for f in report.findings if f.kind == "dangling_end"} == dead_ends
    parts = [c for c in nx.connected_components(graph) if len(c) > 1]
    bare = len(list(nx.isolates(graph)))  # nodes the cut left without a pipe
    main = max(parts, key=lambda c: graph.subgraph(c).number_of_edges())
    sources = set(wn.reservoir_name_list + wn.tank_name_list)
    assert kinds["disconnected"] == len(parts) - 1 + bare + (not main & sources)
    assert report.errors == sum(1 for c in parts if not c & sources)
    # an EPANET model has neither material nor depth: one finding each, not one per pipe
    assert [f.message for f in report.findings if f.kind == "missing_attribute"] == [
        f"none of its {len(wn.pipe_name_list)} pipes has material",
        f"none of its {len(wn.pipe_name_list)} pipes has depth_m or inverts"]
    assert kinds["duplicate_node"] == 0  # its coordinates are a drawing's, never snapped


def test_epanet_pipes_between_the_same_nodes_are_duplicates_only_at_the_same_length():
    net = read_inp(library_inp("ky4.inp"))
    duplicates = [f for f in check(net).findings if f.kind == "duplicate_pipe"]
    lengths = net.links["length_m"]
    same_ends = net.links.assign(a=net.ends.min(axis=1), b=net.ends.max(axis=1)).groupby(["a", "b"]).size()
    assert (same_ends > 1).sum() == 21  # parallel pipes of different lengths: not duplicates
    for f in duplicates:
        assert abs(lengths[f.ids[0]] - lengths[f.ids[1]]) <= 0.5


def test_cli_check_lists_findings_and_fails_on_errors(faulty):
    done = run_twin("network", "check", faulty / "scene.toml", "--json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert (data["errors"], data["warnings"], data["tolerance_m"]) == (4, 13, 0.5)
    done = run_twin("network", "check", faulty)
    assert done.returncode == 1
    assert "4 error(s), 13 warning(s)" in done.stdout
    assert all(kind in done.stdout for kind in ("dangling_end", "duplicate_pipe", "uphill", "no_outlet"))
    done = run_twin("network", "check", faulty, "--network", "power", "--tolerance-m", "0.2", "--json")
    assert done.returncode == 0, done.stderr
    assert {f["network"] for f in json.loads(done.stdout)["findings"]} == {"power"}
    done = run_twin("network", "check", faulty, "--network", "steam")
    assert done.returncode == 2 and "'steam' is not one of the networks" in done.stderr


def test_cli_check_on_the_demo_and_an_inp_model():
    done = run_twin("network", "check", DEMO / "scene.toml")
    assert done.returncode == 0, done.stderr
    assert "7 network(s), 907 pipes, snapping tolerance 0.5 m: no problems found" in done.stdout
    done = run_twin("network", "check", "--inp", library_inp("Net3.inp"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["networks"] == {"Net3": {"pipes": 119, "nodes": 97}}
