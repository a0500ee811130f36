"""One park from a scene: IFC placed in the park CRS, GIS layers beside it, IFC replacing its block."""
from __future__ import annotations

import json
import shutil

import geopandas as gpd
import pyproj
import pytest
import shapely

from conftest import run_twin
from twin.scene import load_park


@pytest.fixture
def fzk_scene(tmp_path, sample):
    """FZK-Haus by its lat/long, with a footprints layer: one block under the house, one beside it."""
    shutil.copy(sample("AC20-FZK-Haus.ifc"), tmp_path / "fzk.ifc")
    lat, lon = 49 + 6 / 60 + 1.566 / 3600, 8 + 26 / 60 + 11.5404 / 3600
    e, n = pyproj.Transformer.from_crs(4326, 25832, always_xy=True).transform(lon, lat)
    origin = [round(e), round(n), 100.0]
    park = load_park_with(tmp_path, origin, [])  # where the house lands, to draw its footprint
    house = shapely.box(*park.get(park.of_kind("building")[0].id).bounds_m[:2],
                        *park.get(park.of_kind("building")[0].id).bounds_m[3:5])
    blocks = gpd.GeoDataFrame({"code": ["B1", "B2"], "name": ["住宅 1", "办公 2"], "levels": [2, 5]},
                              geometry=[shapely.affinity.translate(house, origin[0], origin[1]),
                                        shapely.box(e + 40, n + 40, e + 70, n + 60)], crs="EPSG:25832")
    blocks.to_file(tmp_path / "blocks.geojson", driver="GeoJSON")
    layer = ('[[layers]]\nkey = "blocks"\npath = "blocks.geojson"\nrole = "buildings"\nid_field = "code"\n'
             '[layers.fields]\nname = "name"\nlevels = "levels"\n')
    return tmp_path, origin, layer


def load_park_with(folder, origin, extra):
    (folder / "scene.toml").write_text(
        f'name = "FZK"\ncrs = "EPSG:25832"\norigin = {origin}\n[ground]\nelevation_m = 110.0\n'
        f'[[ifc]]\npath = "fzk.ifc"\n' + "".join(extra), encoding="utf-8")
    return load_park(folder)


def test_ifc_building_replaces_the_block_it_covers(fzk_scene):
    folder, origin, layer = fzk_scene
    park = load_park_with(folder, origin, [layer])
    ifc_building = next(n for n in park.of_kind("building") if n.id.startswith("ifc:"))
    assert ifc_building.links["footprint"] == "gis:blocks:B1"
    assert "gis:blocks:B1" not in park and "gis:blocks:B2" in park
    block = park.get("gis:blocks:B2")
    assert block.bounds_m[5] - block.bounds_m[2] == pytest.approx(5 * 3.5)
    assert block.bounds_m[2] == pytest.approx(110.0 - origin[2], abs=0.01)
    batch = next(b for b in park.batches if b.key == "gis:blocks")
    assert batch.node_ids == ["gis:blocks:B2"]


def test_named_replacement_wins(fzk_scene):
    folder, origin, layer = fzk_scene
    park = load_park_with(folder, origin, [layer.replace('[[layers]]', 'replaces = "gis:blocks:B2"\n[[layers]]')])
    assert "gis:blocks:B2" not in park and "gis:blocks:B1" in park


def test_info_bounds_cover_ifc_and_gis(fzk_scene):
    folder, origin, layer = fzk_scene
    load_park_with(folder, origin, [layer])
    result = run_twin("info", folder, "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    lon0, lat0, lon1, lat1 = info["bounds_lonlat"]
    assert lon0 < 8.43654 < lon1 and lat0 < 49.10044 < lat1
    assert info["counts"]["building"] == 2 and info["crs"] == "EPSG:25832"
