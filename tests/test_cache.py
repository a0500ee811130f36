"""The compile cache: hits return the same park without recompiling; any source change rebuilds;
a damaged entry is rebuilt with a warning; properties still read after a cached load."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

import ifc.properties
from conftest import ROOT
from ifc.properties import IfcProperties
from twin import cache
from twin.cache import cache_key, compile_scene, entry_path
from twin.park import Node, Park

DEMO = ROOT / "scenes" / "demo"


@pytest.fixture(scope="module", autouse=True)
def private_cache():
    """Each scene's cache in its own folder, whatever the environment says."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TWIN_CACHE", raising=False)
        yield


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> tuple[Park, Path]:
    """The demo park compiled once (cold) into a copy of the demo scene, with its cache entry."""
    folder = tmp_path_factory.mktemp("compiled") / "demo"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns(".twin-cache"))
    return compile_scene(folder), folder


@pytest.fixture
def scene(compiled, tmp_path) -> Path:
    """A fresh copy of the compiled scene folder, cache entry included."""
    return Path(shutil.copytree(compiled[1], tmp_path / "demo"))


@pytest.fixture
def builds(monkeypatch, compiled) -> list[Path]:
    """Counts compiles: ``load_park`` replaced by a stub that records its path and returns the park."""
    calls: list[Path] = []

    def load_park(path, progress=None):
        calls.append(Path(path))
        return compiled[0]
    monkeypatch.setattr(cache, "load_park", load_park)
    return calls


def assert_same_park(a: Park, b: Park) -> None:
    assert (a.name, a.crs, a.georeference) == (b.name, b.crs, b.georeference)
    np.testing.assert_array_equal(a.origin_m, b.origin_m)
    assert list(a.nodes) == list(b.nodes)
    for x, y in zip(a.nodes.values(), b.nodes.values()):
        assert (x.id, x.kind, x.name, x.parent, x.ifc_class, x.long_name, x.code, x.type_name,
                x.elevation_m, x.bounds_m, x.links, x.children) == \
               (y.id, y.kind, y.name, y.parent, y.ifc_class, y.long_name, y.code, y.type_name,
                y.elevation_m, y.bounds_m, y.links, y.children)
    assert [(t.key, t.digest) for t in a.batches] == [(t.key, t.digest) for t in b.batches]
    for t, u in zip(a.batches, b.batches):
        np.testing.assert_array_equal(t.points_m, u.points_m)
        np.testing.assert_array_equal(t.cell_node, u.cell_node)
        assert t.node_ids == u.node_ids
    assert a.placements.keys() == b.placements.keys()
    for key in a.placements:
        np.testing.assert_array_equal(a.placements[key], b.placements[key])


def test_hit_returns_the_same_park_without_compiling(compiled, scene, builds):
    entry = entry_path(scene)
    stamp = entry.stat().st_mtime_ns
    park = compile_scene(scene)
    assert builds == []
    assert entry.stat().st_mtime_ns == stamp
    assert park.sources == {}
    assert_same_park(compiled[0], park)
    door = park.of_class("IfcDoor")[0]  # queries work on the loaded graph
    assert door in park.find(door.name) and park.nearest(door.centre_m, kind="element")[0] is door
    assert park.path(door.id) == [park.nodes[n.id] for n in compiled[0].path(door.id)]


def test_properties_read_after_a_cached_load(compiled, scene, builds, monkeypatch):
    monkeypatch.setattr(ifc.properties, "_models", {})  # nothing open: the file must be reopened
    park = compile_scene(scene)
    space = next(n for n in park.of_kind("space"))
    assert space.properties_loader.path.parent == (scene / "buildings").resolve()  # the copy, not the original
    assert space.properties and space.properties == compiled[0].nodes[space.id].properties


@pytest.mark.parametrize("source", ["scene.toml", "buildings/B02.ifc", "gis/roads.geojson", "devices.csv"])
def test_changing_a_source_byte_rebuilds(scene, builds, source):
    before = cache_key(scene)
    old_entry = entry_path(scene)
    path = scene / source
    data = bytearray(path.read_bytes())
    data[2] ^= 1  # one bit, early: in scene.toml's heading comment (the stubbed compile parses nothing else)
    path.write_bytes(bytes(data))
    assert cache_key(scene) != before
    compile_scene(scene)
    compile_scene(scene)
    assert builds == [scene]  # rebuilt once, then cached again
    assert not old_entry.exists()  # only the newest entry is kept
    assert [p.name for p in (scene / ".twin-cache").glob("*.park")] == [entry_path(scene).name]


def test_code_change_rebuilds(scene, monkeypatch):
    before = cache_key(scene)
    monkeypatch.setattr(cache, "code_version", lambda: "another compiler")
    assert cache_key(scene) != before


def test_every_named_file_is_in_the_key(tmp_path):
    (tmp_path / "scene.toml").write_text(
        'name = "p"\ncrs = "EPSG:4549"\norigin = [0, 0, 0]\n[[ifc]]\npath = "a.ifc"\n'
        '[[layers]]\nkey = "roads"\nrole = "roads"\nid_field = "id"\npath = "gis/roads.shp"\n'
        '[devices]\npath = "devices.csv"\n[leases]\npath = "leases.csv"\n')
    files = ["a.ifc", "gis/roads.shp", "gis/roads.shx", "gis/roads.dbf", "gis/roads.prj", "gis/roads.cpg",
             "devices.csv", "leases.csv"]
    (tmp_path / "gis").mkdir()
    (tmp_path / "gis" / "other.dbf").write_bytes(b"not part of the scene")
    for name in files:
        (tmp_path / name).write_bytes(b"x")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in cache.scene_sources(tmp_path)) == \
        sorted(["scene.toml", *files])
    keys = {cache_key(tmp_path)}
    for name in files:
        (tmp_path / name).write_bytes(b"y")
        keys.add(cache_key(tmp_path))
    (tmp_path / "gis" / "other.dbf").write_bytes(b"changed")
    keys.add(cache_key(tmp_path))
    assert len(keys) == len(files) + 1


def test_a_broken_scene_has_no_key_but_its_own_error(tmp_path):
    from twin.scene import SceneError

    (tmp_path / "scene.toml").write_text('name = "p"\nifc = "not a list"\n[[layers]]\npath = "gone.shp"\n')
    with pytest.raises(SceneError, match="ifc: must be a list of tables"):
        cache_key(tmp_path)


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_a_damaged_entry_is_rebuilt_with_a_warning(scene, builds, caplog, damage):
    entry = entry_path(scene)
    data = bytearray(entry.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        data = bytearray()
    entry.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="twin.cache"):
        compile_scene(scene)
    assert builds == [scene]
    assert any("unusable cache entry" in r.message for r in caplog.records)
    assert cache.load_cached(scene) is not None  # the rebuilt entry is whole


def test_a_failed_write_leaves_no_entry(scene, builds, monkeypatch):
    shutil.rmtree(scene / ".twin-cache")

    def fail(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(cache.os, "replace", fail)
    compile_scene(scene)  # still returns the park
    assert list((scene / ".twin-cache").iterdir()) == [scene / ".twin-cache" / ".gitignore"]


def test_shared_cache_folder(scene, builds, tmp_path, monkeypatch):
    shared = tmp_path / "shared-cache"
    monkeypatch.setenv("TWIN_CACHE", str(shared))
    compile_scene(scene)
    compile_scene(scene)
    assert builds == [scene]
    (entry,) = shared.glob("*.park")
    assert entry.name.startswith("scene.toml-")  # a hash of the scene's path keeps scenes apart


def test_save_and_load_keep_other_loaders_and_park_state(tmp_path):
    from twin.park import PropertySet

    source = tmp_path / "site.ifc"
    source.write_bytes(b"stand-in: only hashed here")
    park = Park("p", origin_m=(1.0, 2.0, 3.0), crs="EPSG:4549")
    park.add(Node("gis:roads:R1", "road", "主路", parent="park",
                  properties_loader=PropertySet("attributes", {"width": 7.5})))
    park.add(Node("ifc:X", "element", parent="gis:roads:R1", bounds_m=(0, 0, 0, 1, 1, 1),
                  properties_loader=IfcProperties(source, 42)))
    park.placements["ifc:"] = np.eye(4)
    cache.save(park, source)
    loaded = cache.load_cached(source)
    assert loaded.get("gis:roads:R1").properties == {"attributes": {"width": 7.5}}
    assert loaded.get("gis:roads:R1").bounds_m is None and loaded.get("ifc:X").bounds_m == (0, 0, 0, 1, 1, 1)
    assert vars(loaded.get("ifc:X").properties_loader) == vars(IfcProperties(source, 42))
    np.testing.assert_array_equal(loaded.placements["ifc:"], np.eye(4))
    assert (loaded.crs, list(loaded.origin_m), loaded.get("park").children) == ("EPSG:4549", [1, 2, 3],
                                                                               ["gis:roads:R1"])


def test_an_unpicklable_park_is_returned_uncached(scene, compiled, monkeypatch, caplog):
    park = Park("p")
    park.add(Node("x", "element", parent="park", properties_loader=lambda: {}))
    monkeypatch.setattr(cache, "load_park", lambda path, progress=None: park)
    (scene / "scene.toml").write_text((scene / "scene.toml").read_text() + "\n# edited\n")
    with caplog.at_level(logging.WARNING, logger="twin.cache"):
        assert compile_scene(scene) is park
    assert any("cannot write the cache" in r.message for r in caplog.records)
    assert not entry_path(scene).exists()
