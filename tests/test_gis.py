"""GIS layers into the park, on real files (OSM XML, a real water network) and on bad inputs."""
from __future__ import annotations

import json
import logging
import pickle
import time

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
import trimesh

from conftest import DATA
from gis.importer import add_layer
from gis.inspect import inspect_gis
from gis.layers import LayerSpec, read_layer
from gis.roles import STOREY_HEIGHT_M
from twin.errors import InputError
from twin.park import Park

OSM = DATA / "gis" / "osmnx_planet_10.068_48.135_10.071_48.137.osm"
PIPES = DATA / "pipes" / "ky4_pipes.geojson"
JUNCTIONS = DATA / "pipes" / "ky4_junctions.geojson"

needs_gis_data = pytest.mark.skipif(not (OSM.exists() and PIPES.exists()), reason=(
    f"sample GIS files under {DATA} are absent (they ship beside the project, not in the repo)"))


def osm_buildings(**fields: str) -> LayerSpec:
    return LayerSpec("osm", OSM, "buildings", "osm_way_id", layer="multipolygons",
                     where="building IS NOT NULL", fields=fields)


def ky4_pipes() -> LayerSpec:
    return LayerSpec("pipes", PIPES, "pipes", "name", fields={
        "diameter_mm": "diameter * 1000", "utility": "=water",
        "start_node": "start_node_name", "end_node": "end_node_name"})


def ky4_park() -> Park:
    """A park in UTM 16N (metres) around the Kentucky network, which is stored in US survey feet."""
    return Park("ky4", origin_m=(624000.0, 4212000.0, 200.0), crs="EPSG:32616")


def z_extent(node) -> float:
    return node.bounds_m[5] - node.bounds_m[2]


# --- inspect ------------------------------------------------------------------------------------
@needs_gis_data
def test_inspect_osm_lists_every_gdal_layer_with_gdal_counts():
    layers = {layer["name"]: layer for layer in inspect_gis(OSM)["layers"]}
    assert list(layers) == [str(name) for name, _ in pyogrio.list_layers(OSM)]
    for name, layer in layers.items():
        assert layer["features"] == len(pyogrio.read_dataframe(OSM, layer=name)), name
        assert layer["epsg"] == 4326
    assert layers["multipolygons"] == {"name": "multipolygons", "epsg": 4326,
                                       "geometry_type": "MultiPolygon", "features": 32}
    assert layers["lines"]["features"] == 15 and layers["points"]["features"] == 2


@needs_gis_data
def test_inspect_geojson_geopackage_and_shapefile(tmp_path):
    assert inspect_gis(PIPES) == {"layers": [{"name": "ky4_pipes", "epsg": 3547,
                                              "geometry_type": "LineString", "features": 1156}]}
    junctions = gpd.read_file(JUNCTIONS)
    junctions.to_file(tmp_path / "net.gpkg", layer="junctions")
    junctions.head(10).to_file(tmp_path / "net.gpkg", layer="first_ten")
    junctions[["name", "geometry"]].to_file(tmp_path / "junctions.shp")
    assert inspect_gis(tmp_path / "net.gpkg")["layers"] == [
        {"name": "junctions", "epsg": 3547, "geometry_type": "Point", "features": 959},
        {"name": "first_ten", "epsg": 3547, "geometry_type": "Point", "features": 10}]
    assert inspect_gis(tmp_path / "junctions.shp")["layers"][0]["features"] == 959


def test_inspect_bad_and_missing_files(tmp_path):
    bad = tmp_path / "broken.gpkg"
    bad.write_bytes(b"not a geopackage at all")
    with pytest.raises(InputError, match="broken.gpkg: GDAL cannot read it"):
        inspect_gis(bad)
    with pytest.raises(InputError, match="nowhere.geojson: no such file"):
        inspect_gis(tmp_path / "nowhere.geojson")


# --- OSM buildings ------------------------------------------------------------------------------
@needs_gis_data
def test_osm_buildings_extruded_from_levels_in_other_tags(caplog):
    park = Park("kirchberg", origin_m=(579570.0, 5331970.0, 500.0), crs="EPSG:25832")
    with caplog.at_level(logging.WARNING, logger="gis"):
        report = add_layer(park, osm_buildings(levels="building:levels"), ground_z_m=510.0)
    assert (report.features, report.nodes, report.repaired, report.dropped) == (32, 32, 1, 0)
    assert report.crs == "EPSG:4326"
    assert sum("repaired 1 invalid" in r.message for r in caplog.records) == 1
    buildings = park.of_kind("building")
    assert len(buildings) == 32 and all(b.id.startswith("gis:osm:") and b.parent == "park" for b in buildings)
    with_levels = [b for b in buildings if "levels" in b.properties["attributes"]]
    assert len(with_levels) == 9
    two_storeys = park.get("gis:osm:275490754")
    assert two_storeys.properties["attributes"]["levels"] == 2
    assert z_extent(two_storeys) == pytest.approx(2 * STOREY_HEIGHT_M)
    assert two_storeys.bounds_m[2] == pytest.approx(10.0)  # ground 510 m, origin at 500 m
    assert z_extent(park.get("gis:osm:275436099")) == pytest.approx(10.0)  # no levels: 10 m
    assert abs(two_storeys.centre_m[0]) < 500 and abs(two_storeys.centre_m[1]) < 500  # relative to origin
    batch, = park.batches
    assert (batch.key, batch.category) == ("gis:osm", "buildings")
    assert sorted(batch.node_ids) == sorted(b.id for b in buildings)
    assert pickle.loads(pickle.dumps(two_storeys)).properties["attributes"]["levels"] == 2


@needs_gis_data
def test_osm_roads_buffered_and_ids_stable():
    spec = LayerSpec("roads", OSM, "roads", "osm_id", layer="lines", where="highway IS NOT NULL")
    park, again = (Park("p", origin_m=(579570.0, 5331970.0, 0.0), crs="EPSG:32632") for _ in range(2))
    add_layer(park, spec)
    add_layer(again, spec)
    assert set(park.nodes) == set(again.nodes) and len(park.of_kind("road")) == 14
    road = park.of_kind("road")[0]
    assert z_extent(road) == pytest.approx(0.0) and road.bounds_m[2] > 0  # flat, just above ground


# --- the Kentucky water network -----------------------------------------------------------------
@needs_gis_data
def test_pipes_and_junctions_become_tubes_and_nodes():
    gdf, report = read_layer(ky4_pipes())
    assert report.crs == "EPSG:3547" and len(gdf) == 1156 and gdf.crs.to_epsg() == 3547
    park = ky4_park()
    started = time.perf_counter()
    report = add_layer(park, ky4_pipes(), ground_z_m=200.0)
    assert time.perf_counter() - started < 5
    junctions = add_layer(park, LayerSpec("junctions", JUNCTIONS, "network_nodes", "name",
                                          fields={"utility": "=water", "node_type": "=junction"}),
                          ground_z_m=200.0)
    assert (report.nodes, junctions.nodes) == (1156, 959)
    assert len(park.of_kind("pipe")) == 1156 and len(park.of_kind("network_node")) == 959
    pipe, start = park.get("gis:pipes:P-1"), park.get("gis:junctions:J-1")
    assert pipe.properties["attributes"]["start_node"] == "J-1"
    assert pipe.properties["attributes"]["diameter_mm"] == pytest.approx(152.4)
    # a tube of the pipe's diameter at the usual depth of a water main, starting at its junction
    assert z_extent(pipe) == pytest.approx(0.1524, rel=0.01)
    assert pipe.centre_m[2] == pytest.approx(-1.2)
    batch = next(b for b in park.batches if b.key == "gis:pipes:water")
    tube = batch.points_m[batch.triangles[batch.cell_node == batch.node_ids.index(pipe.id)]].reshape(-1, 3)
    assert np.hypot(*(tube[:, :2] - start.centre_m[:2]).T).min() < 0.1  # reprojected from US feet alike
    assert batch.category == "pipes:water" and len(batch.node_ids) == 1156
    sides = 6
    segments = sum(int((np.diff(np.asarray(g.coords), axis=0) != 0).any(axis=1).sum()) for g in gdf.geometry)
    assert batch.n_triangles == 2 * sides * segments


def test_pipe_slopes_between_inverts(tmp_path):
    path = tmp_path / "sewer.geojson"
    gpd.GeoDataFrame({"code": ["S1"], "inv_a": [8.0], "inv_b": [7.0], "dn": [300]},
                     geometry=[shapely.LineString([(0, 0), (50, 0), (100, 0)])], crs="EPSG:4549").to_file(path)
    park = Park("p", origin_m=(0.0, 0.0, 4.0), crs="EPSG:4549")
    add_layer(park, LayerSpec("sewer", path, "pipes", "code", fields={
        "utility": "=sewage", "diameter_mm": "dn", "invert_start_m": "inv_a", "invert_end_m": "inv_b"}))
    by_category = {b.category: b for b in park.batches}  # the tubes, their flow arrows, both exaggerated
    assert sorted(by_category) == ["arrows:sewage", "arrows_x5:sewage", "pipes:sewage", "pipes_x5:sewage"]
    batch = by_category["pipes:sewage"]
    assert batch.key == "gis:sewer:sewage"
    points = batch.points_m.astype(float)
    for x_m, invert_m in ((0.0, 8.0), (50.0, 7.5), (100.0, 7.0)):  # sloping linearly by length
        z = points[np.abs(points[:, 0] - x_m) < 0.01, 2]  # rings square to the slope
        assert (z.min(), z.max()) == pytest.approx((invert_m - 4.0, invert_m - 4.0 + 0.3), abs=1e-4)


# --- geometry -----------------------------------------------------------------------------------
def test_footprint_with_hole_and_height(tmp_path):
    courtyard = shapely.Polygon([(0, 0), (40, 0), (40, 30), (0, 30)], [[(10, 10), (10, 20), (30, 20), (30, 10)]])
    path = tmp_path / "b.gpkg"
    gpd.GeoDataFrame({"code": [7], "h": [12.5]}, geometry=[courtyard], crs="EPSG:4549").to_file(path)
    park = Park("p", crs="EPSG:4549")
    add_layer(park, LayerSpec("b", path, "buildings", "code", fields={"height_m": "h"}), ground_z_m=4.0)
    node = park.get("gis:b:7")
    assert node.bounds_m == pytest.approx((0, 0, 4.0, 40, 30, 16.5))
    batch, = park.batches
    triangles = batch.points_m[batch.triangles].astype(float)
    roof = triangles[(np.abs(triangles[:, :, 2] - 16.5) < 1e-6).all(axis=1)]
    area = 0.5 * np.abs(np.cross(roof[:, 1, :2] - roof[:, 0, :2], roof[:, 2, :2] - roof[:, 0, :2])).sum()
    assert area == pytest.approx(courtyard.area)
    solid = trimesh.Trimesh(triangles.reshape(-1, 3), np.arange(len(triangles) * 3).reshape(-1, 3))
    solid.merge_vertices()
    assert solid.is_watertight and solid.volume == pytest.approx(courtyard.area * 12.5, rel=1e-4)


def test_ten_thousand_footprints_in_seconds(tmp_path):
    corners = np.random.default_rng(7).uniform(0, 4000, (10_000, 2))
    path = tmp_path / "many.gpkg"
    gpd.GeoDataFrame({"code": np.arange(10_000), "levels": 3},
                     geometry=shapely.box(corners[:, 0], corners[:, 1], corners[:, 0] + 20, corners[:, 1] + 12),
                     crs="EPSG:4549").to_file(path)
    park = Park("p", origin_m=(2000.0, 2000.0, 0.0), crs="EPSG:4549")
    started = time.perf_counter()
    report = add_layer(park, LayerSpec("many", path, "buildings", "code", fields={"levels": "levels"}))
    assert time.perf_counter() - started < 5
    assert report.nodes == 10_000 and len(park.batches) == 1
    assert z_extent(park.get("gis:many:9999")) == pytest.approx(3 * STOREY_HEIGHT_M)


# --- bad inputs ---------------------------------------------------------------------------------
def write_geojson(path, features: list[tuple[object, str]]) -> None:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": code}, "geometry": geometry} for code, geometry in features]}))


def square(x: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x, 0], [x + 0.001, 0], [x + 0.001, 0.001], [x, 0.001], [x, 0]]]}


def test_layer_without_crs(tmp_path):
    path = tmp_path / "nocrs.shp"
    gpd.GeoDataFrame({"code": ["A"]}, geometry=[shapely.box(0, 0, 10, 10)]).to_file(path)
    with pytest.raises(InputError, match=r"nocrs.shp layer nocrs: no CRS; state `crs` in the scene file"):
        read_layer(LayerSpec("x", path, "green", "code"))
    gdf, report = read_layer(LayerSpec("x", path, "green", "code", crs="EPSG:4549"))
    assert report.crs == "EPSG:4549" and gdf.crs.to_epsg() == 4549


def test_invalid_polygons_repaired_and_counted(tmp_path, caplog):
    path = tmp_path / "bad.geojson"
    write_geojson(path, [
        ("bowtie", {"type": "Polygon", "coordinates": [[[0, 0], [0.001, 0.001], [0.001, 0], [0, 0.001], [0, 0]]]}),
        ("two_points", {"type": "Polygon", "coordinates": [[[0, 0], [0.001, 0.001]]]}),
        ("fine", square(0.01)),
        ("nothing", None),
    ])
    with caplog.at_level(logging.WARNING, logger="gis"):
        gdf, report = read_layer(LayerSpec("g", path, "green", "code"))
    assert (report.repaired, report.dropped, report.features) == (1, 2, 2)
    assert list(gdf.index) == ["bowtie", "fine"]
    assert gdf.loc["bowtie"].geometry.geom_type == "MultiPolygon" and gdf.is_valid.all()
    assert [r.message for r in caplog.records if "repaired" in r.message] == [
        f"{path} layer bad: repaired 1 invalid geometries, dropped 2 empty, degenerate or unusable ones"]


def test_missing_id_field_and_duplicate_ids(tmp_path):
    path = tmp_path / "dup.geojson"
    write_geojson(path, [("A", square(0)), ("B", square(0.01)), ("A", square(0.02)), ("B", square(0.03))])
    with pytest.raises(InputError, match=r"dup.geojson layer dup: no id_field 'ref' \(it has code\)"):
        read_layer(LayerSpec("g", path, "green", "ref"))
    with pytest.raises(InputError, match=r"dup.geojson layer dup: duplicate 'code' values: A, B"):
        read_layer(LayerSpec("g", path, "green", "code"))


def test_missing_file_layer_field_and_role(tmp_path):
    with pytest.raises(InputError, match="absent.gpkg: no such file"):
        read_layer(LayerSpec("g", tmp_path / "absent.gpkg", "green", "code"))
    path = tmp_path / "one.geojson"
    write_geojson(path, [("A", square(0))])
    with pytest.raises(InputError, match="no layer 'parks'"):
        read_layer(LayerSpec("g", path, "green", "code", layer="parks"))
    with pytest.raises(InputError, match="field 'height_m' names column 'h'"):
        read_layer(LayerSpec("g", path, "buildings", "code", fields={"height_m": "h"}))
    with pytest.raises(InputError, match="one.geojson layer one: where 'storeys > 2' failed"):
        read_layer(LayerSpec("g", path, "green", "code", where="storeys > 2"))
    with pytest.raises(InputError, match="role 'forest' is not one of"):
        read_layer(LayerSpec("g", path, "forest", "code"))
    with pytest.raises(InputError, match="not a projected CRS in metres"):
        add_layer(Park("p", crs="EPSG:4326"), LayerSpec("g", path, "green", "code"))
    with pytest.raises(InputError, match="pipes need field `utility`"):
        add_layer(Park("p", crs="EPSG:4549"), LayerSpec("g", path, "pipes", "code"))


@needs_gis_data
def test_osm_without_layer_names_the_layers():
    with pytest.raises(InputError, match="5 layers .*multipolygons.*; state `layer`"):
        read_layer(LayerSpec("osm", OSM, "buildings", "osm_way_id"))


def test_points_become_markers_and_boundary_a_band(tmp_path):
    path = tmp_path / "site.gpkg"
    gpd.GeoDataFrame({"code": ["G1", "G2"], "name": ["东门", "北门"]},
                     geometry=[shapely.Point(10, 10), shapely.Point(50, 80)], crs="EPSG:4549").to_file(path, layer="gates")
    gpd.GeoDataFrame({"code": ["site"]}, geometry=[shapely.box(0, 0, 100, 100)], crs="EPSG:4549").to_file(path, layer="boundary")
    park = Park("p", crs="EPSG:4549")
    add_layer(park, LayerSpec("gates", path, "gates", "code", layer="gates", fields={"name": "name"}), ground_z_m=4.0)
    add_layer(park, LayerSpec("boundary", path, "boundary", "code", layer="boundary"), ground_z_m=4.0)
    gate = park.find("东门")[0]
    assert gate.id == "gis:gates:G1" and gate.kind == "gate"
    assert gate.bounds_m == pytest.approx((9.5, 9.5, 4.0, 10.5, 10.5, 7.0))
    boundary = park.get("gis:boundary:site")
    assert boundary.bounds_m[0] == pytest.approx(-0.5) and boundary.bounds_m[3] == pytest.approx(100.5)
    assert park.nearest((0, 50, 4), kind="boundary") == [boundary]
    assert [b.category for b in park.batches] == ["gates", "boundary"]


def test_gis_kinds_are_park_kinds():
    from gis.roles import GIS_KINDS
    from twin.park import KINDS
    assert set(GIS_KINDS) <= set(KINDS)
