"""`twin inspect` on the real sample files, cross-checked against ifcopenshell itself."""
from __future__ import annotations

import json
import logging
import shutil

import ifcopenshell
import ifcopenshell.geom
import pyproj
import pytest

from conftest import ROOT, ifc_files, needs_data, run_twin
from ifc.inspect import inspect_ifc
from ifc.reader import IfcReadError, open_ifc


def expected_counts(model: ifcopenshell.file) -> dict:
    """The contract's counts computed straight from ifcopenshell, independently of twin."""
    elements = [e for e in model.by_type("IfcElement")
                if not e.is_a("IfcFeatureElement") and not e.is_a("IfcVirtualElement")]
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    it = ifcopenshell.geom.iterator(settings, model, 2)
    shaped = set()
    if it.initialize():
        while True:
            shaped.add(it.get().id)
            if not it.next():
                break
    return {"buildings": len(model.by_type("IfcBuilding")), "storeys": len(model.by_type("IfcBuildingStorey")),
            "spaces": len(model.by_type("IfcSpace")), "elements": len(elements),
            "elements_without_geometry": sum(e.id() not in shaped for e in elements)}


@needs_data
@pytest.mark.parametrize("path", ifc_files(), ids=lambda p: p.name)
def test_counts_match_ifcopenshell(path, tmp_path):
    if b"'IFC4X3_RC2'" in path.read_bytes()[:4096]:  # ifcopenshell refuses this draft header: rename it
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes().replace(b"'IFC4X3_RC2'", b"'IFC4X3_ADD2'", 1))
        model = ifcopenshell.open(str(copy))
    else:
        model = ifcopenshell.open(str(path))
    report = inspect_ifc(path)
    assert {k: report[k] for k in expected_counts(model)} == expected_counts(model)
    assert report["schema"] == model.schema_identifier


def test_fzk_haus_site_latlon(sample):
    geo = inspect_ifc(sample("AC20-FZK-Haus.ifc"))["georeference"]
    assert geo["method"] == "site_latlon" and geo["epsg"] is None
    # IfcSite RefLatitude (49,6,1,566000), RefLongitude (8,26,11,540400)
    assert geo["lat"] == pytest.approx(49 + 6 / 60 + 1.566 / 3600, abs=1e-9)
    assert geo["lon"] == pytest.approx(8 + 26 / 60 + 11.5404 / 3600, abs=1e-9)


def test_utm_map_conversion(sample):
    geo = inspect_ifc(sample("bsi_geographic-referencing-utm_ifc4x3.ifc"))["georeference"]
    assert geo["method"] == "map_conversion" and geo["epsg"] == 25832
    lon, lat = pyproj.Transformer.from_crs(25832, 4326, always_xy=True).transform(458657.30, 5438232.25)
    assert (geo["lat"], geo["lon"]) == pytest.approx((lat, lon), abs=1e-9)
    # the file's IfcSite says the same place (49°5'43.9837", 8°26'1.2473") to within a metre or so
    assert geo["lat"] == pytest.approx(49 + 5 / 60 + 43.9837 / 3600, abs=2e-5)
    assert geo["lon"] == pytest.approx(8 + 26 / 60 + 1.2473 / 3600, abs=2e-5)


def test_map_conversion_without_epsg(sample):
    geo = inspect_ifc(sample("ios_geolocation-mapconversion.ifc"))["georeference"]
    assert geo == {"method": "map_conversion", "epsg": None, "lat": None, "lon": None}


def test_no_georeference(sample):
    assert inspect_ifc(sample("bsi5_hello-wall.ifc"))["georeference"]["method"] == "none"


def test_ifc4x3_draft_opens_as_add2_with_warning(sample, caplog):
    with caplog.at_level(logging.WARNING):
        model = open_ifc(sample("KIT-Simple-Road-Test-IFC4x3_RC2.ifc"))
    assert model.schema_identifier == "IFC4X3_ADD2"
    assert any("IFC4X3_RC2" in r.getMessage() and "IFC4X3_ADD2" in r.getMessage() for r in caplog.records)


def test_ifc2x3_reads(sample):
    report = inspect_ifc(sample("webifc_example.ifc"))
    assert report["schema"] == "IFC2X3" and report["storeys"] == 2 and report["georeference"]["method"] == "site_latlon"


def test_cli_json_contract(sample):
    result = run_twin("inspect", sample("AC20-FZK-Haus.ifc"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert list(report) == ["schema", "buildings", "storeys", "spaces", "elements",
                            "elements_without_geometry", "georeference"]
    assert list(report["georeference"]) == ["method", "epsg", "lat", "lon"]
    assert (report["buildings"], report["storeys"], report["spaces"]) == (1, 2, 7)


def _bad_files(tmp_path):
    good = (ROOT / "scenes" / "demo" / "buildings" / "B01.ifc").read_bytes()  # in the repo: runs without sample data
    files = {
        "truncated": (good[: len(good) // 2], "truncated"),
        "not IFC": (b"PK\x03\x04 this is a zip, not a STEP file", "not an IFC file"),
        "unknown schema": (good.replace(b"'IFC4'", b"'IFC9X9'"), "unsupported IFC schema 'IFC9X9'"),
        "empty": (b"", "empty file"),
    }
    for name, (data, cause) in files.items():
        path = tmp_path / f"{name.replace(' ', '_')}.ifc"
        path.write_bytes(data)
        yield name, path, cause
    yield "missing", tmp_path / "does_not_exist.ifc", "no such file"


@pytest.mark.parametrize("case", ["truncated", "not IFC", "unknown schema", "empty", "missing"])
def test_bad_input_one_clear_line(case, tmp_path):
    name, path, cause = next(c for c in _bad_files(tmp_path) if c[0] == case)
    with pytest.raises(IfcReadError) as info:
        open_ifc(path)
    assert str(path) in str(info.value) and cause in str(info.value)
    result = run_twin("inspect", path, "--json")
    assert result.returncode != 0
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and path.name in lines[0] and cause in lines[0], result.stderr


def test_source_file_is_never_modified(sample, tmp_path):
    copy = tmp_path / "road.ifc"
    shutil.copy(sample("KIT-Simple-Road-Test-IFC4x3_RC2.ifc"), copy)
    before = copy.read_bytes()
    open_ifc(copy)
    assert copy.read_bytes() == before


@pytest.mark.parametrize("source", ["webifc_example.ifc", "ios_basic.ifc"])  # IFC2X3 ePSet_, IFC4 entity
def test_map_conversion_written_by_ifcopenshell(source, sample, tmp_path):
    """A map conversion to CGCS2000 / 3-degree Gauss-Kruger CM 120E (EPSG:4549), as a Chinese
    survey would give it, read back from both IFC2X3 property sets and IFC4 entities."""
    import ifcopenshell.api.georeference

    model = ifcopenshell.open(str(sample(source)))
    ifcopenshell.api.georeference.add_georeferencing(model)
    ifcopenshell.api.georeference.edit_georeferencing(
        model, projected_crs={"Name": "EPSG:4549"},
        coordinate_operation={"Eastings": 547_500.0, "Northings": 3_456_300.0, "OrthogonalHeight": 4.5,
                              "XAxisAbscissa": 0.8660254, "XAxisOrdinate": 0.5, "Scale": 1.0})
    path = tmp_path / source
    model.write(str(path))
    geo = inspect_ifc(path)["georeference"]
    lon, lat = pyproj.Transformer.from_crs(4549, 4326, always_xy=True).transform(547_500.0, 3_456_300.0)
    assert geo["method"] == "map_conversion" and geo["epsg"] == 4549
    assert (geo["lat"], geo["lon"]) == pytest.approx((lat, lon), abs=1e-9)
    assert 31 < geo["lat"] < 32 and 120 < geo["lon"] < 121
    from ifc.georef import read_georeference
    grid = read_georeference(open_ifc(path)).conversion.to_grid([[10.0, 0.0, 1.0]])[0]
    assert grid == pytest.approx([547_500.0 + 10 * 0.8660254, 3_456_300.0 + 10 * 0.5, 5.5], abs=1e-4)


@pytest.mark.parametrize("dms, degrees", [((49, 6, 1, 566000), 49.100435), ((-71, -1, -58, -789672), -71.032997),
                                          ((-71, 1, 58), -71.032778), ((31, 13), 31.216667)])
def test_site_angles_as_writers_give_them(dms, degrees):
    from ifc.georef import _degrees
    assert _degrees(dms) == pytest.approx(degrees, abs=1e-6)


@pytest.mark.parametrize("name, code", [("EPSG:4549", 4549), ("urn:ogc:def:crs:EPSG::25832", 25832),
                                        ("4547", 4547), ("CGCS2000 / 3-degree Gauss-Kruger CM 120E", 4549),
                                        ("", None), ("UTM32", None)])
def test_epsg_from_crs_names(name, code):
    from ifc.georef import _epsg
    assert _epsg(name) == code
