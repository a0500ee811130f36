"""A DEM as the park's ground: blocks stand on it, pipes are laid below it, the ground mesh follows it."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import Affine

from conftest import run_twin
from twin.errors import InputError
from twin.ground import Ground
from twin.scene import SceneError, load_park

ORIGIN = (547500.0, 3456300.0, 4.0)
WEST, NORTH, SIZE = 547400.0, 3456500.0, 300  # the DEM: 300 × 300 one-metre pixels


def from_origin(west: float, north: float, xsize: float, ysize: float) -> Affine:
    return Affine(xsize, 0.0, west, 0.0, -ysize, north)


def dem_z(easting: float) -> float:
    """The test DEM: a plane rising 1 m per 10 m eastwards, 4 m at its west edge."""
    return 4.0 + (easting - WEST) / 10


def write_dem(path, crs="EPSG:4549") -> None:
    centres = WEST + 0.5 + np.arange(SIZE)
    values = np.tile(dem_z(centres), (SIZE, 1)).astype("float32")
    values[0, 0] = -9999  # one nodata pixel, far from everything
    with rasterio.open(path, "w", driver="GTiff", width=SIZE, height=SIZE, count=1, dtype="float32",
                       crs=crs, transform=from_origin(WEST, NORTH, 1.0, 1.0), nodata=-9999) as dst:
        dst.write(values, 1)


@pytest.fixture
def hilly(tmp_path):
    """A scene on a sloping DEM with one building, one sewer and one device by lon/lat."""
    write_dem(tmp_path / "terrain.tif")
    gpd.GeoDataFrame({"code": ["B1"], "height": [12.0]},
                     geometry=[shapely.box(547520, 3456320, 547540, 3456340)],
                     crs="EPSG:4549").to_file(tmp_path / "buildings.geojson")
    gpd.GeoDataFrame({"code": ["S1"], "depth": [1.5], "dn": [200]},
                     geometry=[shapely.LineString([(547510, 3456310), (547590, 3456310)])],
                     crs="EPSG:4549").to_file(tmp_path / "pipes.geojson")
    lon, lat = gpd.GeoSeries([shapely.Point(547560, 3456350)], crs="EPSG:4549").to_crs("EPSG:4326")[0].coords[0]
    (tmp_path / "devices.csv").write_text(f"code,name,type,lon,lat,height_m\nC1,cam,camera,{lon},{lat},3\n",
                                          encoding="utf-8")
    (tmp_path / "scene.toml").write_text(f"""name = "hilly"
crs = "EPSG:4549"
origin = [{ORIGIN[0]}, {ORIGIN[1]}, {ORIGIN[2]}]

[ground]
dem = "terrain.tif"

[[layers]]
key = "buildings"
path = "buildings.geojson"
role = "buildings"
id_field = "code"
[layers.fields]
height_m = "height"

[[layers]]
key = "sewer"
path = "pipes.geojson"
role = "pipes"
id_field = "code"
[layers.fields]
utility = "=sewage"
depth_m = "depth"
diameter_mm = "dn"

[devices]
path = "devices.csv"
""", encoding="utf-8")
    return tmp_path


def test_block_stands_on_the_dem_at_its_lowest_corner(hilly):
    park = load_park(hilly)
    block = park.get("gis:buildings:B1")
    base_m = dem_z(547520) - ORIGIN[2]  # the west edge is the lowest
    assert block.bounds_m[2] == pytest.approx(base_m, abs=0.05)
    assert block.bounds_m[5] == pytest.approx(base_m + 12.0, abs=0.05)


def test_pipe_ends_lie_depth_below_the_dem(hilly):
    park = load_park(hilly)
    batch = next(b for b in park.batches if b.key == "gis:sewer:sewage")
    points = np.unique(batch.points_m.astype(float), axis=0)
    for easting in (547510.0, 547590.0):
        x = easting - ORIGIN[0]
        ring = points[np.abs(points[:, 0] - x) < 0.05]
        assert len(ring) >= 6
        assert ring[:, 2].mean() == pytest.approx(dem_z(easting) - 1.5 - ORIGIN[2], abs=0.02)


def test_ground_batch_follows_the_dem_and_devices_sit_on_it(hilly):
    park = load_park(hilly)
    ground = next(b for b in park.batches if b.key == "ground")
    points = ground.points_m.astype(float)
    assert np.ptp(points[:, 2]) > 10  # not flat
    expected = dem_z(points[:, 0] + ORIGIN[0]) - ORIGIN[2] - 0.02
    assert np.abs(points[:, 2] - expected).max() < 0.01
    assert ground.n_triangles <= 2 * 200 * 200
    device = park.get("dev:C1")
    assert (device.bounds_m[2] + device.bounds_m[5]) / 2 == pytest.approx(dem_z(547560) + 3 - ORIGIN[2], abs=0.05)


def test_check_passes_on_the_dem_scene(hilly):
    result = run_twin("check", hilly)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dem_in_another_crs_is_reprojected(tmp_path):
    """A DEM in lon/lat: z = 100 + 1000 × (lon − 121), sampled at park points."""
    lon0, lat0 = gpd.GeoSeries([shapely.Point(ORIGIN[:2])], crs="EPSG:4549").to_crs("EPSG:4326")[0].coords[0]
    step = 1e-5
    west, north = lon0 - 100 * step, lat0 + 100 * step
    lons = west + (np.arange(200) + 0.5) * step
    values = np.tile(100 + 1000 * (lons - 121), (200, 1)).astype("float64")
    with rasterio.open(tmp_path / "ll.tif", "w", driver="GTiff", width=200, height=200, count=1,
                       dtype="float64", crs="EPSG:4326", transform=from_origin(west, north, step, step)) as dst:
        dst.write(values, 1)
    ground = Ground.from_dem(tmp_path / "ll.tif", "EPSG:4549", ORIGIN, fallback_m=-5.0)
    xy = np.array([[0.0, 0.0], [30.0, -40.0], [5000.0, 0.0]])  # the last is off the raster
    lonlat = gpd.GeoSeries(shapely.points(xy[:2] + ORIGIN[:2]), crs="EPSG:4549").to_crs("EPSG:4326")
    expected = 100 + 1000 * (lonlat.x.to_numpy() - 121)
    z = ground.z_m(xy)
    assert z[:2] == pytest.approx(expected, abs=1e-6)
    assert z[2] == -5.0


def test_flat_ground_and_fallback_to_median(tmp_path):
    assert Ground(7.5).z_m(np.zeros((3, 2))).tolist() == [7.5] * 3
    write_dem(tmp_path / "t.tif")
    ground = Ground.from_dem(tmp_path / "t.tif", "EPSG:4549", ORIGIN)  # no elevation_m: the median
    far, nodata = [10000.0, 0.0], [WEST + 0.2 - ORIGIN[0], NORTH - 0.2 - ORIGIN[1]]
    values = np.tile(dem_z(WEST + 0.5 + np.arange(SIZE)), (SIZE, 1))
    values[0, 0] = np.nan  # the nodata pixel does not count
    median = float(np.nanmedian(values))
    assert ground.z_m(np.array([far, nodata])) == pytest.approx([median, median], abs=0.01)


def test_bad_dem_gives_one_clear_error(hilly):
    (hilly / "terrain.tif").write_text("not a GeoTIFF", encoding="utf-8")
    with pytest.raises(SceneError) as info:
        load_park(hilly)
    assert len(info.value.problems) == 1
    assert "ground.dem" in str(info.value) and "terrain.tif" in str(info.value)
    assert "not a readable raster DEM" in str(info.value)
    result = run_twin("check", hilly)
    assert result.returncode != 0 and "terrain.tif" in result.stdout + result.stderr


def test_dem_without_crs_is_refused(tmp_path):
    with rasterio.open(tmp_path / "nocrs.tif", "w", driver="GTiff", width=2, height=2, count=1,
                       dtype="float32", transform=from_origin(0, 2, 1, 1)) as dst:
        dst.write(np.zeros((2, 2), "float32"), 1)
    with pytest.raises(InputError, match=r"nocrs\.tif: the DEM has no CRS"):
        Ground.from_dem(tmp_path / "nocrs.tif", "EPSG:4549", ORIGIN)
