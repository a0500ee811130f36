"""IFC buildings land where their georeference or the scene's anchor says, in the park CRS."""
from __future__ import annotations

import shutil

import ifcopenshell.util.placement
import numpy as np
import pyproj
import pytest

from ifc.placement import apply
from twin.scene import SceneError, load_park


def _scene(folder, ifc_name: str, crs: str, origin, extra: str = "") -> None:
    (folder / "scene.toml").write_text(
        f'name = "t"\ncrs = "{crs}"\norigin = {list(origin)}\n[[ifc]]\npath = "{ifc_name}"\n{extra}', encoding="utf-8")


def test_fzk_haus_lands_on_its_latlon(sample, tmp_path):
    """The IfcSite reference point projects to within 0.5 m of its lat/long in the park CRS."""
    shutil.copy(sample("AC20-FZK-Haus.ifc"), tmp_path / "fzk.ifc")
    lat, lon = 49 + 6 / 60 + 1.566 / 3600, 8 + 26 / 60 + 11.5404 / 3600
    e, n = pyproj.Transformer.from_crs(4326, 25832, always_xy=True).transform(lon, lat)
    origin = (round(e) + 30.0, round(n) - 20.0, 100.0)
    _scene(tmp_path, "fzk.ifc", "EPSG:25832", origin)
    park = load_park(tmp_path)
    model = park.sources["ifc:"]
    site = model.by_type("IfcSite")[0]
    site_world = ifcopenshell.util.placement.get_local_placement(site.ObjectPlacement)[:3, 3]
    landed = apply(park.placements["ifc:"], site_world[None, :])[0]
    assert np.hypot(landed[0] - (e - origin[0]), landed[1] - (n - origin[1])) < 0.5
    assert landed[2] == pytest.approx(110.0 - origin[2], abs=0.01)  # RefElevation 110 m
    lon_back, lat_back, _ = park.to_lonlat(landed)[0]
    assert (lon_back, lat_back) == pytest.approx((lon, lat), abs=1e-7)


def test_true_north_turns_the_building(sample, tmp_path):
    """FZK-Haus says true north is 50° off its +Y: its +Y axis must point 50° away from grid north
    (less the small meridian convergence of UTM there)."""
    shutil.copy(sample("AC20-FZK-Haus.ifc"), tmp_path / "fzk.ifc")
    _scene(tmp_path, "fzk.ifc", "EPSG:25832", (457000.0, 5439000.0, 100.0))
    m = load_park(tmp_path).placements["ifc:"]
    y_axis = m[:2, 1]
    bearing_deg = np.degrees(np.arctan2(y_axis[0], y_axis[1]))  # clockwise from grid north
    assert abs(abs(bearing_deg) - 50.0) < 1.5


def test_anchor_overrides_georeference(sample, tmp_path):
    shutil.copy(sample("AC20-FZK-Haus.ifc"), tmp_path / "fzk.ifc")
    anchor = '[ifc.anchor]\neasting = 500100.0\nnorthing = 3400200.0\nelevation = 5.0\nrotation_deg = 90.0\n'
    _scene(tmp_path, "fzk.ifc", "EPSG:4549", (500000.0, 3400000.0, 0.0), anchor)
    m = load_park(tmp_path).placements["ifc:"]
    assert apply(m, np.array([[10.0, 0.0, 1.0]]))[0] == pytest.approx([100.0, 210.0, 6.0])


def test_map_conversion_places_the_utm_sample(sample, tmp_path):
    shutil.copy(sample("bsi_geographic-referencing-utm_ifc4x3.ifc"), tmp_path / "utm.ifc")
    _scene(tmp_path, "utm.ifc", "EPSG:25832", (458600.0, 5438200.0, 100.0))
    m = load_park(tmp_path).placements["ifc:"]
    assert apply(m, np.zeros((1, 3)))[0] == pytest.approx([57.30, 32.25, 13.7], abs=1e-3)


def test_unplaced_model_needs_an_anchor(sample, tmp_path):
    shutil.copy(sample("bsi5_hello-wall.ifc"), tmp_path / "wall.ifc")
    _scene(tmp_path, "wall.ifc", "EPSG:4549", (500000.0, 3400000.0, 0.0))
    with pytest.raises(SceneError, match=r"ifc\[0\] \(wall.ifc\): no IfcMapConversion .* give it an \[ifc.anchor\]"):
        load_park(tmp_path)
