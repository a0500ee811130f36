"""An EPANET model as a scene's pipe layers (gis.epanet): drawn like GIS pipes, analysed like them,
and the same network as ``--inp`` reads."""
from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

import pytest

from twin.cache import compile_scene
from twin.errors import InputError
from twin.networks.epanet import read_inp
from twin.networks.scene import scene_networks
from twin.networks.trace import trace
from twin.scene import read_scene

NET3 = Path(str(files("wntr.library.networks") / "Net3.inp"))
SCENE = """name = "Net3 town"
crs = "EPSG:32650"
origin = [0.0, 0.0, 0.0]

[[layers]]
key = "mains"
path = "net3.inp"
role = "pipes"
id_field = "name"
crs = "EPSG:32650"

[[layers]]
key = "junctions"
path = "net3.inp"
role = "network_nodes"
id_field = "name"
crs = "EPSG:32650"
"""


@pytest.fixture
def scene(tmp_path) -> Path:
    shutil.copy(NET3, tmp_path / "net3.inp")
    (tmp_path / "scene.toml").write_text(SCENE, encoding="utf-8")
    return tmp_path


def test_an_inp_model_is_a_scene_layer_drawn_and_analysed_like_gis_pipes(scene):
    wn_links = read_inp(NET3)
    park = compile_scene(scene)
    assert len(park.of_kind("pipe")) == len(wn_links.links)
    assert len(park.of_kind("network_node")) == len(wn_links.nodes)
    assert {b.category for b in park.batches} >= {"pipes:water", "network_nodes:water"}
    pump = next(n for n in park.of_kind("pipe") if n.properties["attributes"]["link_type"] == "pump")
    assert pump.links["start"].startswith("gis:junctions:")

    net = scene_networks(read_scene(scene)).networks["water"]
    assert len(net.links) == len(wn_links.links) and len(net.nodes) == len(wn_links.nodes)
    assert net.sources().size == wn_links.sources().size  # reservoirs and tanks
    ours = trace(net, "gis:mains:20")
    theirs = trace(wn_links, "pipe:20")
    assert [p.rsplit(":", 1)[1] for p in ours.pipes] == theirs.pipes
    assert sorted(n.rsplit(":", 1)[1] for n in ours.nodes) == sorted(theirs.nodes)


def test_a_broken_inp_layer_is_one_line_naming_the_file(scene):
    (scene / "net3.inp").write_text("[JUNCTIONS]\n J1  not-a-number\n[END]\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"net3.inp: not a readable EPANET model") as caught:
        compile_scene(scene)
    assert "\n" not in str(caught.value)
