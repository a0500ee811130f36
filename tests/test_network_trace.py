"""Traces of drainage, power and telecom networks (issue 6, item 4): a hand-made scene, the demo
park, wntr's example networks against networkx, and ``twin network trace``."""
from __future__ import annotations

import json
import random

import networkx as nx
import pytest

from conftest import ROOT, run_twin
from test_network_check import library_inp, write_scene
from twin.errors import InputError
from twin.networks.epanet import from_wntr, read_inp
from twin.networks.scene import scene_networks
from twin.networks.trace import trace
from twin.scene import read_scene

DEMO = ROOT / "scenes" / "demo"
P, N = "gis:pipes:", "gis:nodes:"

NODES = [
    # a sewer draining to O; B and E lie level, so T5 between them has no known flow
    ("O", "sewage", "outfall", 0, 0, {"invert_m": 1.0}), ("A", "sewage", "manhole", 50, 0, {"invert_m": 1.5}),
    ("B", "sewage", "manhole", 100, 0, {"invert_m": 2.0, "building": "B1"}),
    ("C", "sewage", "manhole", 50, 50, {"invert_m": 2.0, "building": "B2"}),
    ("D", "sewage", "manhole", 100, 50, {"invert_m": 2.5}), ("E", "sewage", "manhole", 150, 0, {"invert_m": 2.0}),
    ("F", "sewage", "manhole", 150, 50, {"invert_m": 3.0}),
    # power: a feeder to a building, and a spare duct
    ("P0", "power", "source", 0, -100, {}), ("C1", "power", "chamber", 50, -100, {}),
    ("C2", "power", "chamber", 100, -100, {}), ("K1", "power", "service", 100, -150, {"building": "B1"}),
    ("C3", "power", "chamber", 300, -100, {}), ("C4", "power", "chamber", 350, -100, {}),
    ("R", "water", "source", 0, -50, {}), ("J1", "water", "junction", 50, -50, {}),
    ("X", "telecom", "chamber", 0, -200, {}), ("Y", "telecom", "chamber", 50, -200, {}),
]
SEWER = [("T1", "A", "O", [(50, 0), (0, 0)]), ("T2", "B", "A", [(100, 0), (50, 0)]),
         ("T3", "C", "A", [(50, 50), (50, 0)]), ("T4", "D", "C", [(100, 50), (50, 50)]),
         ("T5", "E", "B", [(150, 0), (100, 0)]), ("T6", "F", "E", [(150, 50), (150, 0)])]
POWER = [("E1", "P0", "C1", [(0, -100), (50, -100)]), ("E2", "C1", "C2", [(50, -100), (100, -100)]),
         ("E3", "C2", "K1", [(100, -100), (100, -150)]), ("E4", "C3", "C4", [(300, -100), (350, -100)])]
PIPES = [*({"code": c, "utility": "sewage", "start_node": a, "end_node": b, "xy": xy} for c, a, b, xy in SEWER),
         *({"code": c, "utility": "power", "start_node": a, "end_node": b, "xy": xy} for c, a, b, xy in POWER),
         {"code": "W1", "utility": "water", "start_node": "R", "end_node": "J1", "xy": [(0, -50), (50, -50)]},
         {"code": "X", "utility": "telecom", "start_node": "X", "end_node": "Y", "xy": [(0, -200), (50, -200)]}]


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return write_scene(tmp_path_factory.mktemp("trace"), NODES, PIPES)


@pytest.fixture(scope="module")
def networks(scene):
    return scene_networks(read_scene(scene)).networks


def ids(prefix: str, names: str) -> list[str]:
    return sorted(prefix + name for name in names.split())


def test_downstream_follows_the_flow_to_the_outfall(networks):
    sewer = networks["sewage"]
    assert trace(sewer, "T4").to_json() == {"pipes": ids(P, "T1 T3 T4"), "nodes": ids(N, "A C O"),
                                            "outfalls": [f"{N}O"]}
    # T5 is level: followed both ways and named
    assert trace(sewer, f"{P}T6", "downstream").to_json() == {
        "pipes": ids(P, "T1 T2 T5 T6"), "nodes": ids(N, "A B E O"), "outfalls": [f"{N}O"],
        "unknown_flow": [f"{P}T5"]}
    assert trace(sewer, "O").to_json() == {"pipes": [], "nodes": [f"{N}O"], "outfalls": [f"{N}O"]}


def test_upstream_finds_what_drains_here_and_the_buildings_served(networks):
    sewer = networks["sewage"]
    assert trace(sewer, "T3", "upstream").to_json() == {"pipes": ids(P, "T3 T4"), "nodes": ids(N, "C D"),
                                                        "buildings": ["B2"]}
    assert trace(sewer, "A", "upstream").to_json() == {
        "pipes": ids(P, "T2 T3 T4 T5 T6"), "nodes": ids(N, "A B C D E F"), "buildings": ["B1", "B2"],
        "unknown_flow": [f"{P}T5"]}


def test_connected_traces_power_and_stops_at_its_gaps(networks):
    power = networks["power"]
    result = trace(power, "E2")
    assert result.direction == "connected"
    assert result.to_json() == {"pipes": ids(P, "E1 E2 E3"), "nodes": ids(N, "C1 C2 K1 P0"),
                                "sources": [f"{N}P0"], "buildings": ["B1"]}
    assert trace(power, f"{N}C3").to_json() == {"pipes": [f"{P}E4"], "nodes": ids(N, "C3 C4"), "sources": [],
                                                "buildings": []}


def test_starts_and_directions_that_cannot_be_traced_are_named(networks):
    with pytest.raises(InputError, match=r"network 'power' \(power\) has no flow to follow: upstream traces are "
                                         "for rain and sewage networks; trace it --connected"):
        trace(networks["power"], "E2", "upstream")
    with pytest.raises(InputError, match="has no flow to follow"):
        trace(networks["water"], "W1", "downstream")
    with pytest.raises(InputError, match="start 'T9': no such pipe or node in network 'sewage'"):
        trace(networks["sewage"], "T9")
    with pytest.raises(InputError, match=r"start 'X' is ambiguous in network 'telecom' \(pipe gis:pipes:X, "
                                         r"node gis:nodes:X\): give a whole id, pipe:X or node:X"):
        trace(networks["telecom"], "X")
    assert trace(networks["telecom"], f"{N}X").nodes == trace(networks["telecom"], "node:X").nodes == ids(N, "X Y")
    assert trace(networks["telecom"], "pipe:X").pipes == [f"{P}X"]
    with pytest.raises(InputError, match="direction 'sideways' is not one of downstream, upstream, connected"):
        trace(networks["sewage"], "T1", "sideways")


def test_every_demo_sewer_pipe_drains_to_the_outfall():
    sewer = scene_networks(read_scene(DEMO)).networks["sewage"]
    outfall = sewer.nodes.index[sewer.nodes["kind"] == "outfall"].tolist()
    assert len(outfall) == 1
    for pipe in sewer.links.index:
        result = trace(sewer, pipe)
        assert result.outfalls == outfall and pipe in result.pipes and not result.unknown_flow
    everything = trace(sewer, outfall[0], "upstream")
    assert everything.pipes == sorted(sewer.links.index)
    assert everything.buildings == [f"B{k:02d}" for k in range(1, 11)]


@pytest.mark.parametrize("inp", ["Net3.inp", "ky4.inp"])
def test_connected_trace_matches_networkx(inp):
    wntr = pytest.importorskip("wntr")
    wn = wntr.network.WaterNetworkModel(str(library_inp(inp)))
    rng = random.Random(inp)
    for link in rng.sample(wn.pipe_name_list, len(wn.pipe_name_list) // 12):  # cut the model into parts
        wn.remove_link(link)
    net = from_wntr(wn, inp)
    graph = wn.to_graph().to_undirected()
    assert nx.number_connected_components(graph) > 1
    for node in rng.sample(wn.node_name_list, min(60, wn.num_nodes)):
        part = nx.node_connected_component(graph, node)
        result = trace(net, f"node:{node}", "connected")
        assert result.nodes == sorted(part)
        assert result.pipes == sorted(k for u, v, k in graph.edges(part, keys=True))
        assert result.sources == sorted(part & set(wn.reservoir_name_list + wn.tank_name_list))
    for link in rng.sample(wn.link_name_list, 20):  # from a pipe: the part of its start node
        start = wn.get_link(link).start_node_name
        assert trace(net, f"pipe:{link}").nodes == sorted(nx.node_connected_component(graph, start))


def test_cli_traces_the_demo_and_refuses_the_wrong_network():
    done = run_twin("network", "trace", DEMO / "scene.toml", "--network", "sewage", "--start", "SW-P0050", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["outfalls"] == ["gis:network_nodes:SW-0001"] and "gis:pipes:SW-P0050" in result["pipes"]
    done = run_twin("network", "trace", DEMO, "--network", "sewage", "--start", "SW-0001", "--upstream")
    assert done.returncode == 0, done.stderr
    assert "sewage: upstream of gis:network_nodes:SW-0001" in done.stdout and "buildings" in done.stdout
    done = run_twin("network", "trace", DEMO, "--network", "power", "--start", "PW-P0001", "--downstream")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "network 'power' (power) has no flow to follow" in done.stderr
    done = run_twin("network", "trace", DEMO, "--start", "PW-P0001")
    assert done.returncode == 2 and "name one with --network" in done.stderr


def test_cli_traces_an_inp_model():
    net = read_inp(library_inp("Net3.inp"))
    done = run_twin("network", "trace", "--inp", library_inp("Net3.inp"), "--start", "node:10", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == trace(net, "node:10").to_json()
    assert json.loads(done.stdout)["sources"] == ["1", "2", "3", "Lake", "River"]
    done = run_twin("network", "trace", "--inp", library_inp("Net3.inp"), "--start", "10")
    assert done.returncode == 2 and "start '10' is ambiguous in network 'Net3' (pipe 10, node 10)" in done.stderr
