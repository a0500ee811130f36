"""Burst isolation against a reference built on wntr's own valve segmentation, on wntr's example
networks, for many bursts and failed valves (issue 6, item 6)."""
from __future__ import annotations

import json
import random

import networkx as nx
import pandas as pd
import pytest

wntr = pytest.importorskip("wntr")
from wntr.metrics.topographic import valve_segments as wntr_valve_segments  # noqa: E402

from conftest import run_twin  # noqa: E402
from twin.errors import InputError  # noqa: E402
from twin.networks.epanet import read_inp, read_valves  # noqa: E402
from twin.networks.isolate import isolate, isolator  # noqa: E402
from twin.networks.model import PipeNetwork  # noqa: E402

LIBRARY = "wntr.library.networks"


def library_inp(name: str):
    from importlib.resources import files
    return files(LIBRARY).joinpath(name)


def valve_table(layer: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"valve_id": layer.index.astype(str), "link": layer["link"], "node": layer["node"]})


def reference(wn, layer: pd.DataFrame, burst: str, failed: list[str]) -> dict:
    """Isolation from wntr's valve segments, with cut-off nodes found by networkx on the model's graph."""
    node_seg, link_seg, _ = wntr_valve_segments(wn.to_graph(), layer.copy())
    rows = [(str(v), link_seg[r.link], node_seg[r.node]) for v, r in layer.iterrows()]
    area = {link_seg[burst]}
    grown = True
    while grown:
        grown = False
        for valve, a, b in rows:
            if valve in failed and (a in area) != (b in area):
                area |= {a, b}
                grown = True
    close = sorted({v for v, a, b in rows if (a in area) != (b in area)} - set(failed))
    pipes = set(link_seg.index[link_seg.isin(area)])
    nodes = set(node_seg.index[node_seg.isin(area)])
    graph = wn.to_graph().to_undirected()
    graph.remove_edges_from([(u, v, k) for u, v, k in graph.edges(keys=True) if k in pipes])
    graph.remove_nodes_from(nodes)
    supplied = set()
    for source in [*wn.reservoir_name_list, *wn.tank_name_list]:
        if source in graph:
            supplied |= nx.node_connected_component(graph, source)
    return {"valves_to_close": close, "isolated_pipes": sorted(pipes), "isolated_nodes": sorted(nodes),
            "affected_nodes": sorted(set(graph.nodes) - supplied)}


CASES = [("Net1.inp", "strategic", 1), ("Net3.inp", "strategic", 1), ("Net3.inp", "strategic", 2),
         ("Net3.inp", "random", 60), ("ky4.inp", "strategic", 1), ("Net2.inp", "random", 40)]


@pytest.mark.parametrize(("inp", "placement", "n"), CASES)
def test_isolation_matches_wntr_reference(inp, placement, n):
    path = library_inp(inp)
    wn = wntr.network.WaterNetworkModel(str(path))
    layer = wntr.network.generate_valve_layer(wn, placement, n, seed=7)
    net = read_inp(path, valve_table(layer))
    rng = random.Random(inp + placement)
    bursts = rng.sample(wn.link_name_list, min(25, wn.num_links))
    compared = 0
    for burst in bursts:
        first = isolate(net, burst)
        assert first.to_json() == reference(wn, layer, burst, [])
        compared += 1
        for failed in rng.sample(first.valves_to_close, min(2, len(first.valves_to_close))):
            second = isolate(net, burst, [failed])
            assert second.to_json() == reference(wn, layer, burst, [failed]), (burst, failed)
            assert failed not in second.valves_to_close
            assert set(first.isolated_pipes) <= set(second.isolated_pipes)
            compared += 1
    assert compared > len(bursts)


def test_failed_valves_compound_and_unknown_ones_are_named():
    path = library_inp("Net3.inp")
    wn = wntr.network.WaterNetworkModel(str(path))
    layer = wntr.network.generate_valve_layer(wn, "strategic", 1, seed=3)
    net = read_inp(path, valve_table(layer))
    burst = wn.pipe_name_list[40]
    first = isolate(net, burst)
    failed = first.valves_to_close[:1]
    second = isolate(net, burst, failed)
    third = isolate(net, burst, failed + second.valves_to_close[:1])
    assert third.to_json() == reference(wn, layer, burst, failed + second.valves_to_close[:1])
    with pytest.raises(InputError, match="no valve 'nope'"):
        isolate(net, burst, ["nope"])
    with pytest.raises(InputError, match="no pipe 'P-none'"):
        isolate(net, "P-none")


def test_a_network_without_sources_and_a_small_hand_made_case():
    nodes = pd.DataFrame({"kind": ["reservoir", "junction", "junction", "junction", "junction"]},
                         index=["R", "A", "B", "C", "D"])
    links = pd.DataFrame({"start": ["R", "A", "B", "C"], "end": ["A", "B", "C", "D"]},
                         index=["P1", "P2", "P3", "P4"])
    valves = pd.DataFrame({"valve_id": ["V1", "V2", "V3"], "link": ["P2", "P3", "P4"], "node": ["A", "B", "C"]})
    net = PipeNetwork.build("line", "water", nodes, links, valves)
    # R-P1-A |V1 P2-B |V2 P3-C |V3 P4-D : a burst on P3 shuts V2 and V3, D loses supply
    result = isolate(net, "P3")
    assert result.to_json() == {"valves_to_close": ["V2", "V3"], "isolated_pipes": ["P3"],
                                "isolated_nodes": ["C"], "affected_nodes": ["D"]}
    # V2 sticks: the segment behind it (P2, B) joins and V1 closes instead
    stuck = isolate(net, "P3", ["V2"])
    assert stuck.valves_to_close == ["V1", "V3"]
    assert stuck.isolated_pipes == ["P2", "P3"] and stuck.isolated_nodes == ["B", "C"]
    dry = PipeNetwork.build("dry", "water", nodes.assign(kind="junction"), links, valves)
    # no source at all: every node outside the isolated segment (R, A) is cut off
    assert isolate(dry, "P1").affected_nodes == ["B", "C", "D"]


def test_bad_valves_and_drainage_get_clear_errors(tmp_path):
    bad = tmp_path / "valves.csv"
    bad.write_text("valve_id,link\n1,P1\n")
    with pytest.raises(InputError, match=r"valves.csv: line 1: missing column\(s\) node"):
        read_valves(bad)
    bad.write_text("valve_id,link,node\n1,10,nowhere\n")
    with pytest.raises(InputError, match="valve '1': no node 'nowhere'"):
        read_inp(library_inp("Net1.inp"), read_valves(bad))
    bad.write_text("valve_id,link,node\n1,10,22\n")  # pipe 10 joins 10 and 11
    with pytest.raises(InputError, match="node '22' is not an end of link '10'"):
        read_inp(library_inp("Net1.inp"), read_valves(bad))
    with pytest.raises(InputError, match="not a readable EPANET model"):
        read_inp(bad)
    nodes = pd.DataFrame({"kind": ["outfall", "manhole"]}, index=["O", "M"])
    sewer = PipeNetwork.build("s", "sewage", nodes, pd.DataFrame({"start": ["M"], "end": ["O"]}, index=["S1"]))
    with pytest.raises(InputError, match="not pressurised"):
        isolator(sewer)


def test_cli_isolates_an_inp_model(tmp_path):
    path = library_inp("Net3.inp")
    wn = wntr.network.WaterNetworkModel(str(path))
    layer = wntr.network.generate_valve_layer(wn, "strategic", 1, seed=11)
    valves = tmp_path / "valves.csv"
    valve_table(layer).to_csv(valves, index=False)
    burst = wn.pipe_name_list[10]
    first = reference(wn, layer, burst, [])
    failed = first["valves_to_close"][0]
    done = run_twin("network", "isolate", "--inp", path, "--valves", valves, "--burst", burst,
                    "--failed-valve", failed, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == reference(wn, layer, burst, [failed])
    done = run_twin("network", "isolate", "--inp", path, "--valves", valves, "--burst", "nope", "--json")
    assert done.returncode != 0 and "no pipe 'nope'" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_valve_drawn_on_an_unbroken_line_closes_the_pipe_next_to_its_nearer_end(tmp_path):
    from test_network_check import write_scene

    from twin.networks.check import check
    from twin.networks.scene import scene_networks
    from twin.scene import read_scene

    # R —P1— A —P2 (100 m, valve V a quarter along, near A)— B; the valve point does not split P2
    water = {"utility": "water"}
    scene = write_scene(tmp_path, [("R", "water", "reservoir", 0, 0, {}), ("A", "water", "junction", 50, 0, {}),
                                   ("B", "water", "junction", 150, 0, {}), ("V", "water", "valve", 75, 0.2, {})],
                        [{"code": "P1", "start_node": "R", "end_node": "A", "xy": [(0, 0), (50, 0)], **water},
                         {"code": "P2", "start_node": "A", "end_node": "B", "xy": [(50, 0), (150, 0)], **water}])
    networks = scene_networks(read_scene(scene))
    net = networks.networks["water"]
    assert net.valves.values.tolist() == [["gis:nodes:V", net.links.index.get_loc("gis:pipes:P2"),
                                           net.nodes.index.get_loc("gis:nodes:A")]]
    assert any("valve gis:nodes:V lies on the pipe" in note for note in networks.notes)
    assert isolate(net, "P1").to_json() == {
        "valves_to_close": ["gis:nodes:V"], "isolated_pipes": ["gis:pipes:P1"],
        "isolated_nodes": ["gis:nodes:A", "gis:nodes:R"], "affected_nodes": ["gis:nodes:B"]}
    assert isolate(net, "P2").valves_to_close == ["gis:nodes:V"]
    kinds = {f.kind for f in check(networks).findings}
    assert "disconnected" not in kinds, "a valve on a pipe is joined to it"
