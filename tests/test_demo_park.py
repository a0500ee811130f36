"""The generated science park must read as a real park: checked as a planner, a fire officer and a
utility engineer would check it, on one park written once into a temporary folder."""
from __future__ import annotations

import csv
import tomllib
from functools import cache
from pathlib import Path

import geopandas as gpd
import ifcopenshell
import networkx as nx
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Point, box

from ifc.generate import DEPTH_M, EXT_WALL_M, LENGTH_M
from twin.generate_park import write_park

SEED = 7
REQUIRED_TYPES = {"temperature_sensor", "humidity_sensor", "air_quality_sensor", "smoke_detector", "energy_meter",
                  "water_meter", "camera", "access_door", "lift", "parking_sensor", "street_light", "charging_pile",
                  "manhole_cover", "pressure_sensor", "flow_sensor", "people_counter", "weather_station"}
FORMAT_COLUMNS = ["code", "name", "type", "model", "host", "lon", "lat", "height_m", "status", "importance",
                  "description", "heading_deg", "tilt_deg", "hfov_deg", "range_m"]
#: Plausible mounting heights above ground (m) of outdoor devices, by type.
HEIGHTS_M = {"street_light": (6.0, 12.0), "camera": (2.5, 12.0), "parking_sensor": (0.0, 0.0),
             "charging_pile": (0.0, 0.0), "manhole_cover": (0.0, 0.0), "access_door": (1.0, 3.0),
             "pressure_sensor": (-3.0, 1.0), "flow_sensor": (-3.0, 1.0), "level_sensor": (0.0, 0.0),
             "leak_detector": (-3.0, 0.0), "people_counter": (2.0, 3.0),
             "weather_station": (5.0, 40.0)}  # above its building's ground floor: on the roof
PRESSURISED = ("water", "gas", "heat")
GRAVITY = ("rain", "sewage")
DUCTS = ("power", "telecom")


@pytest.fixture(scope="module")
def park(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("park")
    write_park(folder, buildings=10, ifc_buildings=3, storeys=2, seed=SEED)
    return folder


@cache
def scene(folder: Path) -> dict:
    return tomllib.loads((folder / "scene.toml").read_text(encoding="utf-8"))


@cache
def layer(folder: Path, key: str) -> gpd.GeoDataFrame:
    entry = next(entry for entry in scene(folder)["layers"] if entry["key"] == key)
    return gpd.read_file(folder / entry["path"])


@cache
def devices(folder: Path) -> list[dict]:
    with open(folder / "devices.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@cache
def ifc_ids(folder: Path) -> dict[str, str]:
    """``ifc:<key>:<GlobalId>`` → IFC class, over every model the scene lists."""
    ids = {}
    for source in scene(folder)["ifc"]:
        model = ifcopenshell.open(str(folder / source["path"]))
        ids.update({f"ifc:{source['key']}:{e.GlobalId}": e.is_a() for e in model.by_type("IfcRoot")})
    return ids


def road_areas(folder: Path) -> gpd.GeoSeries:
    roads = layer(folder, "roads")
    return roads.buffer(roads["width_m"] / 2, cap_style="flat")


def test_scene_follows_the_format(park):
    s = scene(park)
    assert s["crs"] == "EPSG:4549" and s["ground"]["elevation_m"] == 4.0
    lon, lat = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True).transform(*s["origin"][:2])
    assert abs(lon - 121.47) < 0.01 and abs(lat - 31.23) < 0.01
    assert layer(park, "boundary").geometry[0].contains(Point(s["origin"][:2]))
    for entry in s["layers"]:
        frame = layer(park, entry["key"])
        assert frame.crs.to_epsg() == 4549, entry["key"]
        assert frame[entry["id_field"]].is_unique, entry["key"]
        assert set(entry["fields"].values()) <= set(frame.columns), entry["key"]
    codes = set(layer(park, "buildings")["code"])
    assert len(s["ifc"]) == 3 and all(source["replaces"].removeprefix("gis:buildings:") in codes for source in s["ifc"])
    assert (park / s["devices"]["path"]).exists() and (park / s["leases"]["path"]).exists()


def test_ifc_plates_lie_exactly_on_their_footprints(park):
    buildings = layer(park, "buildings").set_index("code")
    half = EXT_WALL_M / 2
    for source in scene(park)["ifc"]:
        anchor = source["anchor"]
        plate = box(-half, -half, LENGTH_M + half, DEPTH_M + half)
        plate = shapely.affinity.rotate(plate, anchor["rotation_deg"], origin=(0, 0))
        plate = shapely.affinity.translate(plate, anchor["easting"], anchor["northing"])
        footprint = buildings.geometry[source["replaces"].removeprefix("gis:buildings:")]
        assert plate.hausdorff_distance(footprint) < 0.002  # millimetre-rounded coordinates


def test_every_building_is_reachable_by_road_from_a_gate(park):
    roads, gates, paths = layer(park, "roads"), layer(park, "gates"), layer(park, "paths")
    graph = nx.Graph()
    for a in roads.itertuples():
        for b in roads.itertuples():
            if a.code < b.code and a.geometry.distance(b.geometry) < 0.01:
                graph.add_edge(a.code, b.code)
        for gate in gates.itertuples():
            if gate.geometry.distance(a.geometry) < 1.0:
                graph.add_edge(gate.code, a.code)
    for b in layer(park, "buildings").itertuples():
        for path in paths.itertuples():
            if path.geometry.distance(b.geometry) < 0.5:
                for road in roads.itertuples():
                    if path.geometry.distance(road.geometry) <= road.width_m / 2 + 0.5:
                        graph.add_edge(b.code, road.code)
    reachable = set().union(*(nx.node_connected_component(graph, g) for g in gates["code"]))
    assert 2 <= len(gates) <= 3
    assert all(layer(park, "boundary").geometry[0].exterior.distance(g) < 0.01 for g in gates.geometry)
    assert set(layer(park, "buildings")["code"]) <= reachable


def test_buildings_roads_and_water_do_not_overlap(park):
    buildings, water = list(layer(park, "buildings").geometry), list(layer(park, "water").geometry)
    roads = list(road_areas(park))
    pairs = [(a, b) for i, a in enumerate(buildings) for b in buildings[i + 1:]]
    pairs += [(a, b) for a in buildings for b in roads + water]
    pairs += [(a, b) for a in roads for b in water]
    assert all(a.intersection(b).area < 1e-6 for a, b in pairs)
    boundary = layer(park, "boundary").geometry[0]
    assert all(boundary.contains(g) for g in buildings + water)


def test_outdoor_devices_stand_inside_the_boundary_at_plausible_heights(park):
    boundary = layer(park, "boundary").geometry[0]
    outdoor = [d for d in devices(park) if d["lon"]]
    assert len(outdoor) > 100
    eastings, northings = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True).transform(
        [float(d["lon"]) for d in outdoor], [float(d["lat"]) for d in outdoor])
    for d, e, n in zip(outdoor, eastings, northings):
        assert boundary.contains(Point(e, n)), d["code"]
        low, high = HEIGHTS_M[d["type"]]
        assert low <= float(d["height_m"]) <= high, d["code"]


def test_every_device_host_and_parent_exists(park):
    gis_ids = {f"gis:{entry['key']}:{code}" for entry in scene(park)["layers"]
               for code in layer(park, entry["key"])[entry["id_field"]]}
    ifc = ifc_ids(park)
    rows = devices(park)
    codes = {d["code"] for d in rows}
    in_room = {"temperature_sensor", "humidity_sensor", "air_quality_sensor", "smoke_detector", "people_counter"}
    for d in rows:
        host = d["host"]
        assert host or d["lon"], d["code"]
        assert not host or host in gis_ids or host in ifc, (d["code"], host)
        if d["type"] in in_room:
            assert ifc[host] == "IfcSpace", d["code"]
        if d["type"] == "access_door" and host.startswith("ifc:"):
            assert ifc[host] == "IfcDoor", d["code"]
        assert not d["parent"] or d["parent"] in codes
    assert any(d["type"] == "lift" and ifc.get(d["host"]) == "IfcTransportElement" for d in rows)


def test_devices_cover_the_park(park):
    with open(park / "devices.csv", encoding="utf-8") as f:
        assert f.readline().strip().split(",")[:len(FORMAT_COLUMNS)] == FORMAT_COLUMNS
    rows = devices(park)
    assert len(rows) >= 300 and len({d["code"] for d in rows}) == len(rows)
    assert REQUIRED_TYPES <= {d["type"] for d in rows}
    for d in rows:
        assert 1 <= int(d["importance"]) <= 3
        if d["type"] == "camera":
            assert 0 <= float(d["heading_deg"]) < 360 and -90 <= float(d["tilt_deg"]) <= 0
            assert 0 < float(d["hfov_deg"]) <= 120 and 0 < float(d["range_m"]) <= 200
    meters = {d["code"]: d for d in rows if d["type"] in ("energy_meter", "water_meter")}
    assert all(not m["parent"] or meters[m["parent"]]["type"] == m["type"] for m in meters.values())
    assert any(m["description"].startswith("租户") for m in meters.values())  # tenant sub-meters


@cache
def spaces(folder: Path) -> dict[str, tuple[str, str, str]]:
    """``ifc:<key>:<GlobalId>`` of every IfcSpace → (building key, storey name, Chinese room kind)."""
    found = {}
    for source in scene(folder)["ifc"]:
        model = ifcopenshell.open(str(folder / source["path"]))
        for space in model.by_type("IfcSpace"):
            found[f"ifc:{source['key']}:{space.GlobalId}"] = (
                source["key"], space.Decomposes[0].RelatingObject.Name, space.LongName.split()[0])
    return found


def test_people_are_counted_in_every_occupied_room_and_at_each_main_entrance(park):
    counters = [d for d in devices(park) if d["type"] == "people_counter"]
    counted = [spaces(park)[d["host"]] for d in counters]
    occupied = [room for room in spaces(park).values() if room[2] in ("开放办公区", "会议室", "经理室")]
    assert sorted(room for room in counted if room[2] != "门厅") == sorted(occupied)
    lobbies = [room for room in counted if room[2] == "门厅"]
    assert sorted(lobbies) == [(key, "1F", "门厅") for key in ("B01", "B02", "B03")]
    assert all(d["code"].startswith("PC-{}-{}-".format(*spaces(park)[d["host"]][:2])) for d in counters)
    entrance = [d for d in counters if d["lon"]]
    assert len(entrance) == 3 and all("主入口" in d["name"] for d in entrance)
    live = scene(park)["live"]
    assert live["occupancy"] == {"metric": "people"}
    (declared,) = [t for t in live["device_types"] if t["type"] == "people_counter"]
    assert declared["metrics"]["people"]["unit"] == "persons" and declared["heartbeat_s"] == 300.0


def test_a_weather_station_on_a_roof_drives_the_plumes(park):
    (station,) = [d for d in devices(park) if d["type"] == "weather_station"]
    assert station["code"] == "WS-01" and ifc_ids(park)[station["host"]] == "IfcBuilding"
    b01 = layer(park, "buildings").set_index("code").loc["B01"]
    assert b01.height_m < float(station["height_m"]) <= b01.height_m + 5.0  # on a mast above the roof
    e, n = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True).transform(
        float(station["lon"]), float(station["lat"]))
    assert b01.geometry.contains(Point(e, n))
    live = scene(park)["live"]
    assert live["weather"] == {"device": "WS-01", "wind_speed": "wind_speed_m_s", "wind_from": "wind_from_deg"}
    (declared,) = [t for t in live["device_types"] if t["type"] == "weather_station"]
    assert set(declared["metrics"]) == {"wind_speed_m_s", "wind_from_deg", "air_temperature_c"}


def test_teams_wait_at_bases_in_the_park_and_the_fire_plan_dispatches_them(park):
    gis_ids = {f"gis:{entry['key']}:{code}" for entry in scene(park)["layers"]
               for code in layer(park, entry["key"])[entry["id_field"]]}
    teams = {team["key"]: team for team in scene(park)["teams"]}
    assert set(teams) == {"fire-station", "security", "medical", "engineering"}
    assert {team["kind"] for team in teams.values()} == {"fire", "security", "medical", "engineering"}
    for team in teams.values():
        base = team["base"]  # outdoors, or a ground-floor room
        assert base in gis_ids or spaces(park).get(base, ("", "", ""))[1] == "1F", team["key"]
    assert spaces(park)[teams["fire-station"]["base"]] == ("B01", "1F", "门厅")
    assert teams["security"]["base"] == "gis:gates:G1"
    (fire,) = scene(park)["plans"]
    dispatched = [(step["at_s"], step["team"]) for step in fire["steps"] if step["action"] == "dispatch"]
    assert dispatched == [(0.0, "fire-station"), (60.0, "security")]


def test_leases_name_real_rooms(park):
    with open(park / "leases.csv", encoding="utf-8", newline="") as f:
        leases = list(csv.DictReader(f))
    ifc = ifc_ids(park)
    assert {lease["status"] for lease in leases} == {"let", "vacant"}
    for lease in leases:
        assert ifc[lease["space"]] == "IfcSpace"
        assert bool(lease["tenant"]) == (lease["status"] == "let")
        assert 5 < float(lease["area_m2"]) < 500 and 2 < float(lease["rent_cny_per_m2_day"]) < 15


def network(park: Path, utility: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, nx.DiGraph]:
    """Nodes, pipes and the directed pipe graph (start → end) of one utility."""
    nodes, pipes = layer(park, "network_nodes"), layer(park, "pipes")
    nodes, pipes = nodes[nodes.utility == utility].set_index("code"), pipes[pipes.utility == utility]
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes.index)
    graph.add_edges_from(zip(pipes.start_node, pipes.end_node))
    return nodes, pipes, graph


@pytest.mark.parametrize("utility", PRESSURISED + DUCTS + GRAVITY)
def test_pipes_join_their_nodes_and_serve_every_building(park, utility):
    nodes, pipes, graph = network(park, utility)
    assert len(graph) == len(nodes), "a pipe names a node that does not exist"
    for pipe in pipes.itertuples():
        start, end = pipe.geometry.coords[0], pipe.geometry.coords[-1]
        assert nodes.geometry[pipe.start_node].distance(Point(start)) < 0.01
        assert nodes.geometry[pipe.end_node].distance(Point(end)) < 0.01
    served = set(nodes["building"].dropna())
    assert served == set(layer(park, "buildings")["code"])


@pytest.mark.parametrize("utility", PRESSURISED + DUCTS)
def test_pressurised_networks_and_ducts_are_connected_to_their_source(park, utility):
    nodes, pipes, graph = network(park, utility)
    sources = list(nodes.index[nodes.node_type == "source"])
    assert len(sources) == 1 and nx.is_connected(graph.to_undirected())
    assert (pipes.depth_m > 0.5).all()
    if utility in PRESSURISED:
        assert (nodes.node_type == "valve").sum() >= 10


def test_hydrants_stand_at_most_120_m_apart_along_roads(park):
    nodes = layer(park, "network_nodes")
    hydrants = shapely.MultiPoint(list(nodes[nodes.node_type == "hydrant"].geometry))
    for road in layer(park, "roads").geometry:
        for k in range(int(road.length // 5) + 1):
            assert road.interpolate(5.0 * k).distance(hydrants) <= 60.0 + 8.0  # half the spacing, plus the offset


@pytest.mark.parametrize("utility", GRAVITY)
def test_gravity_networks_run_downhill_to_an_outfall(park, utility):
    nodes, pipes, graph = network(park, utility)
    assert (pipes.invert_start_m > pipes.invert_end_m).all()
    for pipe in pipes.itertuples():
        assert abs(nodes.invert_m[pipe.start_node] - pipe.invert_start_m) < 0.002
        assert abs(nodes.invert_m[pipe.end_node] - pipe.invert_end_m) < 0.002
    outfalls = list(nodes.index[nodes.node_type == "outfall"])
    assert len(outfalls) == 1
    assert nx.ancestors(graph, outfalls[0]) == set(nodes.index) - {outfalls[0]}
    ground_m = scene(park)["ground"]["elevation_m"]
    assert (nodes.invert_m < ground_m - 0.5).all() and (nodes.invert_m > ground_m - 8.0).all()


def test_the_same_seed_writes_the_same_bytes(park, tmp_path):
    write_park(tmp_path, buildings=10, ifc_buildings=3, storeys=2, seed=SEED)
    ours = sorted(p.relative_to(park) for p in park.rglob("*") if p.is_file())
    assert ours == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert all((park / p).read_bytes() == (tmp_path / p).read_bytes() for p in ours)


def test_command_line_writes_a_park_and_refuses_bad_counts(tmp_path):
    from conftest import run_twin

    result = run_twin("generate", tmp_path / "small", "--park", "--buildings", "2", "--ifc-buildings", "0")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "small" / "scene.toml").exists()
    result = run_twin("generate", tmp_path / "none", "--park", "--buildings", "0")
    assert result.returncode == 2 and "--buildings 0" in result.stderr


def test_compiled_pipes_link_their_end_nodes():
    """In the compiled demo park every pipe links the network nodes at its ends, of its own utility."""
    from conftest import ROOT
    from twin.scene import load_park

    park = load_park(ROOT / "scenes" / "demo")
    pipes = park.of_kind("pipe")
    assert pipes and all({"start", "end"} <= set(p.links) for p in pipes)
    for pipe in pipes[:200]:
        utility = pipe.properties["attributes"]["utility"]
        for end in ("start", "end"):
            assert park.get(pipe.links[end]).properties["attributes"]["utility"] == utility
