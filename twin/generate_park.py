"""Deterministic generator of a complete science-and-industry park (科创园) scene.

``write_park`` writes a scene folder in the format of ``docs/scene-format.md``: ``scene.toml``, GIS
layers as GeoJSON in EPSG:4549 (CGCS2000 / 3-degree Gauss-Krüger CM 120E), office buildings as IFC
(``ifc.generate.write_office``) placed on their footprints by ``[ifc.anchor]``, a device registry
(``devices.csv``) and the lease schedule (``leases.csv``). Nothing comes from outside the repository
and a fixed seed gives byte-identical files.

The park is laid out on a local grid (x east, y north, metres from the park centre), then turned by
``PARK_ROTATION_DEG`` and moved to the park origin. Roads run on the grid lines, a ring road around
them; every cell between roads holds a building, a parking lot, the pond garden, a plaza or a lawn.
Utility mains follow the roads, each shifted by its own offset, so each network is a copy of the
road grid; every building gets one service pipe per utility from its south road.

>>> write_park("out/park", buildings=10)  # doctest: +SKIP
PosixPath('out/park/scene.toml')
"""
from __future__ import annotations

import csv
import heapq
import io
import json
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import ifcopenshell
import ifcopenshell.util.element
import ifcopenshell.util.placement
import shapely
from pyproj import Transformer
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box, mapping
from shapely.geometry.polygon import orient

from ifc.generate import DEPTH_M, EXT_WALL_M, LENGTH_M, STOREY_HEIGHT_M, write_office
from twin.errors import InputError

CRS = "EPSG:4549"
PARK_LON_DEG, PARK_LAT_DEG = 121.47, 31.23  # park centre, rounded to 10 m in the park CRS
GROUND_M = 4.0
PARK_ROTATION_DEG = 12.0  # of the park grid's x axis, anticlockwise from grid east
PARK_NAME = "示范科创园 Demo Science Park"
CELL_X_M, CELL_Y_M = 84.0, 60.0  # road grid spacing
RING_ROAD_M, STREET_M, GATE_ROAD_M = 9.0, 7.0, 9.0  # road widths
MARGIN_M = 22.0  # boundary to ring road centre line
PLOT_SETBACK_M = 3.0  # cell inner edge (road edge) to lot, plaza and lawn edges
IFC_PLATE_M = (LENGTH_M + EXT_WALL_M, DEPTH_M + EXT_WALL_M)  # outer faces of the generated office
IFC_PLATE_MIN_M = -EXT_WALL_M / 2  # the plate's south-west corner in model metres
SPACE_W_M, SPACE_D_M, AISLE_M = 2.5, 5.3, 6.0  # parking bay and aisle
STATION_TOLERANCE_M = 2.0  # stations closer than this along a main merge into one node
FLOAT_DIGITS = 3  # coordinates and elevations: millimetres
LONLAT_DIGITS = 8

CN_DIGITS = "零一二三四五六七八九"
TENANTS = ("上海智芯微电子有限公司", "申城生物医药科技有限公司", "浦江数智科技有限公司", "云帆机器人有限公司",
           "星海新能源科技有限公司", "启明光电有限公司", "弘毅软件有限公司", "瀚海检测技术有限公司",
           "衡准精密仪器有限公司", "青禾环境科技有限公司", "量子跃迁信息技术有限公司", "卓越汽车电子有限公司")
ROAD_NAMES_EW = "纬"  # east-west streets: 纬一路, 纬二路…
ROAD_NAMES_NS = "经"  # north-south streets: 经一路…


# ---------------------------------------------------------------- small helpers

def chinese_number(n: int) -> str:
    """1 → 一, 12 → 十二, 20 → 二十 (1..99)."""
    tens, ones = divmod(n, 10)
    if tens == 0:
        return CN_DIGITS[ones]
    return (CN_DIGITS[tens] if tens > 1 else "") + "十" + (CN_DIGITS[ones] if ones else "")


def rounded(value: float, digits: int = FLOAT_DIGITS) -> float:
    """A float rounded for output, with -0.0 folded to 0.0."""
    return round(value, digits) + 0.0


@dataclass(frozen=True)
class ParkFrame:
    """Local park metres (x east, y north of the grid) to the park CRS and to WGS84."""

    easting: float
    northing: float
    rotation_deg: float = PARK_ROTATION_DEG

    def to_crs(self, x: float, y: float) -> tuple[float, float]:
        """Park-local (x, y) in the park CRS."""
        c, s = math.cos(math.radians(self.rotation_deg)), math.sin(math.radians(self.rotation_deg))
        return self.easting + c * x - s * y, self.northing + s * x + c * y

    def geometry(self, geom: shapely.Geometry) -> shapely.Geometry:
        """A park-local geometry in the park CRS."""
        c, s = math.cos(math.radians(self.rotation_deg)), math.sin(math.radians(self.rotation_deg))
        return affinity.affine_transform(geom, [c, -s, s, c, self.easting, self.northing])

    def heading_deg(self, dx: float, dy: float) -> float:
        """Compass bearing (clockwise from grid north) of the park-local direction (dx, dy)."""
        return rounded((90.0 - math.degrees(math.atan2(dy, dx)) - self.rotation_deg) % 360.0, 1)

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        """Park-local (x, y) as (longitude, latitude) in degrees."""
        return _TO_WGS84.transform(*self.to_crs(x, y))


_TO_WGS84 = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)


def park_frame() -> ParkFrame:
    """The frame whose origin is the park centre (121.47 E, 31.23 N), snapped to 10 m."""
    e, n = Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(PARK_LON_DEG, PARK_LAT_DEG)
    return ParkFrame(round(e, -1), round(n, -1))


@dataclass
class Feature:
    """One GIS feature in park-local metres."""

    code: str
    geometry: shapely.Geometry
    props: dict = field(default_factory=dict)


# ---------------------------------------------------------------- layout

@dataclass
class Gate:
    """A gate on the boundary, joined by an access road to a ring-road node."""

    code: str
    name: str
    point: tuple[float, float]
    ring_node: tuple[int, int]


@dataclass
class Layout:
    """The road grid, the boundary, the gates and what each cell holds."""

    xs: list[float]
    ys: list[float]
    boundary: Polygon
    gates: list[Gate]
    cells: dict[tuple[int, int], str]  # "building", "parking", "garden", "plaza", "lawn"

    @property
    def ncols(self) -> int:
        return len(self.xs) - 1

    @property
    def nrows(self) -> int:
        return len(self.ys) - 1

    def road_width_m(self, a: tuple[int, int], b: tuple[int, int]) -> float:
        """Width of the grid road between nodes a and b: the ring road on the outer lines."""
        if a[0] == b[0]:
            return RING_ROAD_M if a[0] in (0, self.ncols) else STREET_M
        return RING_ROAD_M if a[1] in (0, self.nrows) else STREET_M

    def cell_inner(self, i: int, j: int) -> Polygon:
        """The cell between the road edges."""
        x0, x1, y0, y1 = self.xs[i], self.xs[i + 1], self.ys[j], self.ys[j + 1]
        return box(x0 + self.road_width_m((i, j), (i, j + 1)) / 2, y0 + self.road_width_m((i, j), (i + 1, j)) / 2,
                   x1 - self.road_width_m((i + 1, j), (i + 1, j + 1)) / 2,
                   y1 - self.road_width_m((i, j + 1), (i + 1, j + 1)) / 2)


def plan_layout(buildings: int) -> Layout:
    """Size the grid for the buildings plus parking, garden and plazas, and assign the cells."""
    parking, plazas = max(2, math.ceil(buildings / 5)), max(1, buildings // 10)
    needed = buildings + parking + plazas + 1
    ncols = math.ceil(math.sqrt(needed * 1.4))
    nrows = math.ceil(needed / ncols)
    xs = [(i - ncols / 2) * CELL_X_M for i in range(ncols + 1)]
    ys = [(j - nrows / 2) * CELL_Y_M for j in range(nrows + 1)]
    boundary = box(xs[0] - MARGIN_M, ys[0] - MARGIN_M, xs[-1] + MARGIN_M, ys[-1] + MARGIN_M)
    mid_col, mid_row = ncols // 2, nrows // 2
    gates = [Gate("G1", "南大门（主入口）", (xs[mid_col], ys[0] - MARGIN_M), (mid_col, 0)),
             Gate("G2", "东门", (xs[-1] + MARGIN_M, ys[mid_row]), (ncols, mid_row)),
             Gate("G3", "北门（物流出入口）", (xs[max(1, mid_col - 1)], ys[-1] + MARGIN_M), (max(1, mid_col - 1), nrows))]
    return Layout(xs, ys, boundary, gates, assign_cells(ncols, nrows, gates, xs, ys, buildings, parking, plazas))


def assign_cells(ncols: int, nrows: int, gates: list[Gate], xs: list[float], ys: list[float], buildings: int,
                 parking: int, plazas: int) -> dict[tuple[int, int], str]:
    """Plaza by the main gate, the pond garden in the middle, parking nearest the gates, then buildings."""
    free = [(i, j) for j in range(nrows) for i in range(ncols)]
    cells: dict[tuple[int, int], str] = {}

    def centre(c: tuple[int, int]) -> tuple[float, float]:
        return (xs[c[0]] + xs[c[0] + 1]) / 2, (ys[c[1]] + ys[c[1] + 1]) / 2

    def take(use: str, key: Callable[[tuple[int, int]], float], count: int) -> None:
        for cell in sorted(free, key=lambda c: (key(c), c))[:count]:
            cells[cell] = use
            free.remove(cell)

    def to_point(p: tuple[float, float]) -> Callable[[tuple[int, int]], float]:
        return lambda c: math.dist(centre(c), p)

    take("plaza", to_point(gates[0].point), 1)
    take("garden", to_point((0.0, 0.0)), 1)
    take("parking", lambda c: min(math.dist(centre(c), g.point) for g in gates), parking)
    take("plaza", to_point((0.0, 0.0)), plazas - 1)
    take("building", lambda c: c[1] * ncols + c[0], buildings)
    take("lawn", lambda c: 0.0, len(free))
    return cells


# ---------------------------------------------------------------- road graph

Node = tuple  # (i, j) for grid nodes, ("G1",) for gates, ("outfall", utility) for extra nodes


@dataclass
class Graph:
    """A plane graph: node key → park-local point, edges with their road attributes."""

    nodes: dict[Node, tuple[float, float]] = field(default_factory=dict)
    edges: list[tuple[Node, Node, dict]] = field(default_factory=list)

    def length_m(self, a: Node, b: Node) -> float:
        return math.dist(self.nodes[a], self.nodes[b])


def road_graph(layout: Layout) -> Graph:
    """Grid streets split at every crossing, plus one access road per gate."""
    g = Graph()
    for i, x in enumerate(layout.xs):
        for j, y in enumerate(layout.ys):
            g.nodes[(i, j)] = (x, y)
    for j in range(layout.nrows + 1):
        name = "环园路" if j in (0, layout.nrows) else f"{ROAD_NAMES_EW}{chinese_number(j)}路"
        for i in range(layout.ncols):
            g.edges.append(((i, j), (i + 1, j), {"name": name, "width_m": layout.road_width_m((i, j), (i + 1, j))}))
    for i in range(layout.ncols + 1):
        name = "环园路" if i in (0, layout.ncols) else f"{ROAD_NAMES_NS}{chinese_number(i)}路"
        for j in range(layout.nrows):
            g.edges.append(((i, j), (i, j + 1), {"name": name, "width_m": layout.road_width_m((i, j), (i, j + 1))}))
    for gate in layout.gates:
        g.nodes[(gate.code,)] = gate.point
        name = f"{gate.name.split('（')[0]}进园道路"
        g.edges.append(((gate.code,), gate.ring_node, {"name": name, "width_m": GATE_ROAD_M}))
    return g


def road_features(graph: Graph) -> list[Feature]:
    """One road line per graph edge."""
    return [Feature(f"R{n:03d}", LineString([graph.nodes[a], graph.nodes[b]]), dict(attrs))
            for n, (a, b, attrs) in enumerate(graph.edges, start=1)]


# ---------------------------------------------------------------- buildings and plots

@dataclass
class Building:
    """A building footprint in park-local metres; ``ifc_key`` is set for the IFC-modelled ones."""

    code: str
    name: str
    cell: tuple[int, int]
    footprint: Polygon
    levels: int
    storey_height_m: float
    entrance_x_m: float
    ifc_key: str | None = None

    @property
    def height_m(self) -> float:
        return rounded(self.levels * self.storey_height_m, 2)

    @property
    def south_y_m(self) -> float:
        return self.footprint.bounds[1]


def place_buildings(layout: Layout, count: int, ifc_count: int, storeys: int, rng: random.Random) -> list[Building]:
    """Footprints in the building cells: the first ``ifc_count`` are the IFC office plate, the rest LOD1 blocks."""
    cells = sorted((c for c, use in layout.cells.items() if use == "building"), key=lambda c: (c[1], c[0]))
    result = []
    for n, cell in enumerate(cells[:count], start=1):
        inner = layout.cell_inner(*cell)
        cx, cy = inner.centroid.x, inner.centroid.y
        code = f"B{n:02d}"
        if n <= ifc_count:
            width_m, depth_m, levels, storey_m, kind = *IFC_PLATE_M, storeys, STOREY_HEIGHT_M, "研发楼"
        elif n % 4 == 0:
            width_m, depth_m = _snap(rng.uniform(46.0, 54.0)), _snap(rng.uniform(22.0, 26.0))
            levels, storey_m, kind = rng.randint(2, 3), 5.4, "中试厂房"
        else:
            width_m, depth_m = _snap(rng.uniform(30.0, 52.0)), _snap(rng.uniform(15.0, 22.0))
            levels, storey_m, kind = rng.randint(3, 12), rng.choice((3.6, 3.9, 4.2)), "研发楼"
        x0 = rounded(cx - width_m / 2 + rng.uniform(-3.0, 3.0), 1)
        y0 = rounded(cy - depth_m / 2 + rng.uniform(-2.0, 2.0), 1)
        footprint = box(x0, y0, x0 + width_m, y0 + depth_m)
        result.append(Building(code, f"{n}号{kind}", cell, footprint, levels, storey_m, x0 + width_m / 2,
                               code if n <= ifc_count else None))
    return result


def _snap(value_m: float) -> float:
    """Round a dimension to the 0.3 m planning module."""
    return round(round(value_m / 0.3) * 0.3, 1)


def building_features(buildings: list[Building]) -> list[Feature]:
    return [Feature(b.code, b.footprint, {"name": b.name, "height_m": b.height_m, "levels": b.levels,
                                          "storey_height_m": b.storey_height_m,
                                          "model": "ifc" if b.ifc_key else "lod1"}) for b in buildings]


def entrance_paths(layout: Layout, buildings: list[Building]) -> list[Feature]:
    """A footpath from each building's main entrance south to the road edge."""
    result = []
    for b in buildings:
        i, j = b.cell
        road_edge_y = layout.ys[j] + layout.road_width_m((i, j), (i + 1, j)) / 2
        result.append(Feature(f"W-{b.code}", LineString([(b.entrance_x_m, b.south_y_m), (b.entrance_x_m, road_edge_y)]),
                              {"name": f"{b.name}入口步道", "width_m": 3.0}))
    return result


def parking_features(layout: Layout) -> tuple[list[Feature], list[Feature]]:
    """Surface lots with double-loaded rows of bays along east-west aisles."""
    lots, spaces = [], []
    for n, cell in enumerate(sorted(c for c, use in layout.cells.items() if use == "parking"), start=1):
        x0, y0, x1, y1 = layout.cell_inner(*cell).buffer(-PLOT_SETBACK_M, join_style="mitre").bounds
        lot_spaces = []
        per_row = int((x1 - x0 - 2.0) // SPACE_W_M)
        module_m = 2 * SPACE_D_M + AISLE_M
        for m in range(int((y1 - y0 - 1.0) // (module_m + 1.0))):
            base_y = y0 + 1.0 + m * (module_m + 1.0)
            for row_y in (base_y, base_y + SPACE_D_M + AISLE_M):
                for k in range(per_row):
                    sx = x0 + 1.0 + k * SPACE_W_M
                    lot_spaces.append(box(sx, row_y, sx + SPACE_W_M, row_y + SPACE_D_M))
        code = f"P{n}"
        lots.append(Feature(code, box(x0, y0, x1, y1), {"name": f"{code}地面停车场", "capacity": len(lot_spaces)}))
        spaces += [Feature(f"{code}-{k:03d}", s, {"name": f"{code}-{k:03d}车位", "lot": code})
                   for k, s in enumerate(lot_spaces, start=1)]
    return lots, spaces


def pond_polygon(inner: Polygon, rng: random.Random) -> Polygon:
    """A gently irregular ellipse well inside the garden cell."""
    cx, cy = inner.centroid.x, inner.centroid.y
    x0, y0, x1, y1 = inner.bounds
    ax, ay, phase = (x1 - x0) / 2 - 12.0, (y1 - y0) / 2 - 10.0, rng.uniform(0, 2 * math.pi)
    points = []
    for k in range(72):
        t = 2 * math.pi * k / 72
        r = 1.0 + 0.08 * math.sin(3 * t + phase) - 0.05 * abs(math.sin(t))
        points.append((cx + ax * r * math.cos(t), cy + ay * r * math.sin(t)))
    return Polygon(points)


@dataclass
class Grounds:
    """Green, water, plazas, paths and assembly points of the non-building cells."""

    green: list[Feature] = field(default_factory=list)
    water: list[Feature] = field(default_factory=list)
    paths: list[Feature] = field(default_factory=list)
    assembly: list[Feature] = field(default_factory=list)


def grounds(layout: Layout, buildings: list[Building], roads: list[Feature], rng: random.Random) -> Grounds:
    """Pond garden, plazas, lawns, the green around each building and the green belt inside the boundary."""
    out = Grounds()
    makers = {"garden": _garden, "plaza": _plaza, "lawn": _lawn}
    for n, (cell, use) in enumerate(sorted(layout.cells.items(), key=lambda kv: (kv[0][1], kv[0][0])), start=1):
        if use in makers:
            makers[use](out, f"G{n:02d}", layout.cell_inner(*cell), rng)
    for b in buildings:
        ring = layout.cell_inner(*b.cell).buffer(-PLOT_SETBACK_M, join_style="mitre").difference(
            b.footprint.buffer(4.0, join_style="mitre"))
        walk = LineString([(b.entrance_x_m, b.south_y_m), (b.entrance_x_m, layout.ys[b.cell[1]])]).buffer(2.0)
        _add_green(out, f"G-{b.code}", ring.difference(walk), f"{b.name}附属绿地")
    road_area = shapely.union_all([r.geometry.buffer(r.props["width_m"] / 2, cap_style="flat") for r in roads])
    belt = layout.boundary.buffer(-2.0, join_style="mitre").difference(road_area.buffer(2.0)).difference(
        box(layout.xs[0], layout.ys[0], layout.xs[-1], layout.ys[-1]))
    _add_green(out, "G-BELT", belt, "园区周边绿化带")
    return out


def _garden(out: Grounds, code: str, inner: Polygon, rng: random.Random) -> None:
    """The pond with a loop path, a lawn around it and an emergency shelter on the lawn."""
    pond = pond_polygon(inner, rng)
    out.water.append(Feature("WT1", pond, {"name": "镜湖", "depth_m": 1.8}))
    loop = LineString(pond.buffer(4.0).exterior.simplify(0.2).coords)
    link = LineString([(inner.centroid.x, pond.buffer(4.0).bounds[1]), (inner.centroid.x, inner.bounds[1])])
    out.paths += [Feature("W-LAKE", loop, {"name": "环湖步道", "width_m": 2.5}),
                  Feature("W-LAKE-S", link, {"name": "镜湖南步道", "width_m": 2.5})]
    plot = inner.buffer(-PLOT_SETBACK_M, join_style="mitre")
    _add_green(out, code, plot.difference(pond.buffer(6.0)).difference(link.buffer(1.5)), "镜湖公园绿地")
    _add_assembly(out, Point(plot.bounds[0] + 10, plot.bounds[3] - 8), "镜湖公园应急避难场所", 300)


def _plaza(out: Grounds, code: str, inner: Polygon, _: random.Random) -> None:
    """A paved square ringed by planting, with an assembly point in its middle."""
    square = inner.buffer(-8.0, join_style="mitre")
    out.paths.append(Feature(code.replace("G", "PZ"), square, {"name": "中心广场"}))
    _add_green(out, code, inner.buffer(-PLOT_SETBACK_M, join_style="mitre").difference(square), "广场绿化")
    _add_assembly(out, square.centroid, "中心广场应急集合点", int(square.area / 2.0))


def _lawn(out: Grounds, code: str, inner: Polygon, _: random.Random) -> None:
    """An open lawn, which doubles as an assembly point."""
    plot = inner.buffer(-PLOT_SETBACK_M, join_style="mitre")
    _add_green(out, code, plot, "公共绿地")
    _add_assembly(out, plot.centroid, "草坪应急集合点", int(plot.area / 2.0))


def _add_green(out: Grounds, code: str, geom: shapely.Geometry, name: str) -> None:
    """Add a green polygon, split into one feature per part (codes ``<code>-1``, ``-2``… when split)."""
    parts = [p for p in getattr(geom, "geoms", [geom]) if isinstance(p, Polygon) and p.area > 20.0]
    for k, part in enumerate(parts, start=1):
        out.green.append(Feature(code if len(parts) == 1 else f"{code}-{k}", part, {"name": name}))


def _add_assembly(out: Grounds, point: Point, name: str, capacity: int) -> None:
    """An emergency assembly point; ``capacity`` in people (about 2 m² each)."""
    out.assembly.append(Feature(f"AP{len(out.assembly) + 1}", point, {"name": name, "capacity": capacity}))


def gate_features(layout: Layout) -> list[Feature]:
    return [Feature(g.code, Point(g.point), {"name": g.name}) for g in layout.gates]


# ---------------------------------------------------------------- utility networks

@dataclass(frozen=True)
class Utility:
    """One underground network: how it is laid and where it starts or ends."""

    name: str
    prefix: str
    label: str
    kind: str  # "pressure", "gravity" or "duct"
    offset_m: float  # of the main from the road centre line (applied along x and y)
    depth_m: float  # cover depth of pressure mains and ducts; minimum cover of gravity mains
    main_mm: int
    service_mm: int
    material: str
    gate: int  # index of the gate where its source (or, for sewage, outfall) sits
    end_name: str  # the source or outfall
    slope: float = 0.0  # gravity mains
    station_spacing_m: float = 0.0  # manholes or chambers at most this far apart


UTILITIES = (
    Utility("water", "WS", "给水", "pressure", 5.0, 1.2, 200, 100, "球墨铸铁管 Ductile iron", 0, "市政给水接口 Municipal main"),
    Utility("gas", "GS", "燃气", "pressure", -5.0, 1.0, 160, 63, "PE100 SDR11", 1, "燃气调压站 Gas regulator station"),
    Utility("heat", "HT", "热力", "pressure", 6.5, 1.5, 250, 100, "预制直埋保温钢管 Pre-insulated steel", 2,
            "换热站 Heat exchange station"),
    Utility("rain", "RW", "雨水", "gravity", 2.0, 1.2, 500, 300, "钢筋混凝土管 Reinforced concrete", 0, "镜湖排放口 Pond outfall",
            slope=0.0025, station_spacing_m=40.0),
    Utility("sewage", "SW", "污水", "gravity", -2.0, 1.5, 400, 200, "HDPE双壁波纹管 HDPE", 1, "市政污水接口 Municipal sewer",
            slope=0.003, station_spacing_m=40.0),
    Utility("power", "PW", "电力", "duct", -6.5, 0.8, 150, 100, "MPP电力排管 Duct bank", 1, "10kV开闭所 Switching station",
            station_spacing_m=50.0),
    Utility("telecom", "TC", "通信", "duct", 3.5, 0.8, 110, 50, "HDPE硅芯管 HDPE duct", 2, "通信机房 Telecom room",
            station_spacing_m=50.0),
)
JUNCTION_TYPE = {"pressure": "junction", "gravity": "manhole", "duct": "chamber"}
NODE_LABELS = {"junction": "节点", "manhole": "检查井", "chamber": "工井", "valve": "阀门"}
HYDRANT_OFFSET_M = 1.0  # hydrant beside the water main, away from the road


@dataclass
class Station:
    """A node to place along a main: distance from the edge's start and what branches off it."""

    s_m: float
    valve: bool = False
    hydrant: bool = False
    buildings: list[Building] = field(default_factory=list)
    summit: bool = False

    @property
    def rank(self) -> int:
        """Which station keeps its position when two merge."""
        return 4 if self.summit else 3 if self.buildings else 2 if self.hydrant else 1 if self.valve else 0

    def merge(self, other: Station) -> Station:
        """One station doing both jobs, where the higher-ranked one stands; a tee is no valve."""
        keep = self if self.rank >= other.rank else other
        tee = bool(self.buildings or other.buildings or self.hydrant or other.hydrant)
        return Station(keep.s_m, (self.valve or other.valve) and not tee, self.hydrant or other.hydrant,
                       self.buildings + other.buildings, self.summit or other.summit)


@dataclass
class Network:
    """Nodes and pipes of one utility, in park-local metres."""

    utility: Utility
    nodes: list[Feature] = field(default_factory=list)
    pipes: list[Feature] = field(default_factory=list)

    def add_node(self, point: tuple[float, float], node_type: str, name: str, **props) -> str:
        code = f"{self.utility.prefix}-{len(self.nodes) + 1:04d}"
        self.nodes.append(Feature(code, Point(point), {"utility": self.utility.name, "node_type": node_type,
                                                       "name": name, "depth_m": None, "invert_m": None,
                                                       "building": None, **props}))
        return code

    def add_pipe(self, start: str, end: str, points: list[tuple[float, float]], diameter_mm: int, **props) -> str:
        code = f"{self.utility.prefix}-P{len(self.pipes) + 1:04d}"
        u = self.utility
        self.pipes.append(Feature(code, LineString(points), {
            "utility": u.name, "diameter_mm": diameter_mm, "material": u.material, "start_node": start,
            "end_node": end, "depth_m": None, "invert_start_m": None, "invert_end_m": None,
            "name": f"{u.label}管 DN{diameter_mm}", **props}))
        return code


def utility_graph(roads: Graph, layout: Layout, u: Utility, pond: Polygon) -> tuple[Graph, Node]:
    """The road grid shifted by the utility's offset, with its own gate (and, for rain, the pond outfall).

    Returns the graph and its end node: the source, or the outfall of a gravity network.
    """
    gate = layout.gates[u.gate]
    g = Graph()
    x0, y0, x1, y1 = layout.boundary.buffer(-1.0, join_style="mitre").bounds
    for key, (x, y) in roads.nodes.items():
        if len(key) == 2 or key == (gate.code,):
            g.nodes[key] = (min(max(x + u.offset_m, x0), x1), min(max(y + u.offset_m, y0), y1))
    g.edges = [(a, b, attrs) for a, b, attrs in roads.edges if a in g.nodes and b in g.nodes]
    if u.name != "rain":
        return g, (gate.code,)
    nearest = min((k for k in g.nodes if len(k) == 2), key=lambda k: (pond.distance(Point(g.nodes[k])), k))
    edge = shapely.shortest_line(Point(g.nodes[nearest]), pond.exterior)
    g.nodes[("outfall",)] = edge.coords[1]
    g.edges.append((nearest, ("outfall",), {}))
    return g, ("outfall",)


def distances_m(g: Graph, start: Node) -> dict[Node, float]:
    """Shortest network distance from ``start`` to every node (Dijkstra)."""
    adjacent: dict[Node, list[Node]] = {k: [] for k in g.nodes}
    for a, b, _ in g.edges:
        adjacent[a].append(b)
        adjacent[b].append(a)
    dist, heap = {start: 0.0}, [(0.0, str(start), start)]
    while heap:
        d, _, node = heapq.heappop(heap)
        if d > dist[node]:
            continue
        for other in sorted(adjacent[node], key=str):
            nd = d + g.length_m(node, other)
            if nd < dist.get(other, math.inf):
                dist[other] = nd
                heapq.heappush(heap, (nd, str(other), other))
    return dist


def service_edges(buildings: list[Building]) -> dict[tuple[Node, Node], list[Building]]:
    """The grid edge along each building's south road: where its services branch off."""
    served: dict[tuple[Node, Node], list[Building]] = {}
    for b in buildings:
        i, j = b.cell
        served.setdefault(((i, j), (i + 1, j)), []).append(b)
    return served


def edge_stations(u: Utility, length_m: float, start_x: float, buildings: list[Building], index: int,
                  summit_m: float | None) -> list[Station]:
    """Valves, hydrant tees, service tees, manholes or chambers along one main, merged and sorted."""
    stations = [Station(b.entrance_x_m - 6.0 + 2.0 * index - start_x, buildings=[b]) for b in buildings]
    if u.kind == "pressure" and length_m > 30.0:
        stations += [Station(0.15 * length_m, valve=True), Station(0.85 * length_m, valve=True)]
        if u.name == "water":
            stations.append(Station(0.5 * length_m, hydrant=True))
    if u.station_spacing_m:
        count = math.ceil(length_m / u.station_spacing_m)
        stations += [Station(k * length_m / count) for k in range(1, count)]
    if summit_m is not None:
        stations.append(Station(summit_m, summit=True))
    stations = [s for s in stations if STATION_TOLERANCE_M <= s.s_m <= length_m - STATION_TOLERANCE_M]
    merged: list[Station] = []
    for s in sorted(stations, key=lambda s: (s.s_m, -s.rank)):
        if merged and s.s_m - merged[-1].s_m < STATION_TOLERANCE_M:
            merged[-1] = merged[-1].merge(s)
        else:
            merged.append(s)
    return merged


def build_network(u: Utility, layout: Layout, roads: Graph, buildings: list[Building], pond: Polygon) -> Network:
    """Lay one utility: mains along the shifted road grid, stations on them, one service pipe per building."""
    g, end = utility_graph(roads, layout, u, pond)
    net = Network(u)
    dist = distances_m(g, end)
    base_m = GROUND_M - u.depth_m - u.main_mm / 1000 - u.slope * max(dist.values())

    def invert(d_m: float) -> float:
        return base_m + u.slope * d_m

    codes: dict[Node, str] = {}
    for key in sorted(g.nodes, key=lambda k: (dist[k], str(k))):
        node_type = ("outfall" if u.kind == "gravity" else "source") if key == end else JUNCTION_TYPE[u.kind]
        name = u.end_name if key == end else f"{u.label}{NODE_LABELS[node_type]}"
        codes[key] = net.add_node(g.nodes[key], node_type, name, **_node_level(u, invert(dist[key])))
    served = service_edges(buildings)
    for a, b, _ in g.edges:
        _lay_main(net, g, a, b, codes, dist, invert, served.get((a, b), []))
    return net


def _node_level(u: Utility, invert_m: float) -> dict:
    """Depth of a pressure or duct node, invert of a gravity one."""
    return {"invert_m": rounded(invert_m)} if u.kind == "gravity" else {"depth_m": u.depth_m}


def _lay_main(net: Network, g: Graph, a: Node, b: Node, codes: dict[Node, str], dist: dict[Node, float],
              invert: Callable[[float], float], buildings: list[Building]) -> None:
    """Split the main a→b at its stations, lay the pipes between them and the branches off them."""
    u = net.utility
    (ax, ay), (bx, by) = g.nodes[a], g.nodes[b]
    length_m = g.length_m(a, b)
    summit_m = (dist[b] + length_m - dist[a]) / 2 if u.kind == "gravity" else None
    if summit_m is not None and not STATION_TOLERANCE_M < summit_m < length_m - STATION_TOLERANCE_M:
        summit_m = None  # it drains one way: a summit this near an end is that end
    index = UTILITIES.index(u)
    stations = edge_stations(u, length_m, ax, buildings, index, summit_m)

    def level(s_m: float) -> float:  # distance-to-outfall profile along the edge, peaking at the summit
        if summit_m is not None:
            return min(dist[a] + s_m, dist[b] + length_m - s_m)
        return dist[a] + (dist[b] - dist[a]) * s_m / length_m

    chain = [(0.0, codes[a])]
    for st in stations:
        point = (ax + (bx - ax) * st.s_m / length_m, ay + (by - ay) * st.s_m / length_m)
        node_type = "valve" if st.valve else JUNCTION_TYPE[u.kind]
        code = net.add_node(point, node_type, f"{u.label}{NODE_LABELS[node_type]}",
                            **_node_level(u, invert(level(st.s_m))))
        chain.append((st.s_m, code))
        if st.hydrant:
            _lay_hydrant(net, point, code, (bx - ax) / length_m, (by - ay) / length_m)
        for building in st.buildings:
            _lay_service(net, point, code, building, invert(level(st.s_m)))
    chain.append((length_m, codes[b]))
    for (s0, c0), (s1, c1) in zip(chain, chain[1:]):
        p0 = (ax + (bx - ax) * s0 / length_m, ay + (by - ay) * s0 / length_m)
        p1 = (ax + (bx - ax) * s1 / length_m, ay + (by - ay) * s1 / length_m)
        if u.kind != "gravity":
            net.add_pipe(c0, c1, [p0, p1], u.main_mm, depth_m=u.depth_m)
            continue
        i0, i1 = invert(level(s0)), invert(level(s1))
        start, end, points = (c0, c1, [p0, p1]) if i0 > i1 else (c1, c0, [p1, p0])
        net.add_pipe(start, end, points, u.main_mm if b != ("outfall",) else u.main_mm + 300,
                     invert_start_m=rounded(max(i0, i1)), invert_end_m=rounded(min(i0, i1)))


def _lay_hydrant(net: Network, tee: tuple[float, float], tee_code: str, dx: float, dy: float) -> None:
    """An outdoor hydrant beside the water main, on the side away from the road centre."""
    side = math.copysign(1.0, net.utility.offset_m)
    point = (tee[0] + abs(dy) * side * HYDRANT_OFFSET_M, tee[1] + abs(dx) * side * HYDRANT_OFFSET_M)
    code = net.add_node(point, "hydrant", "室外消火栓 SS100/65", depth_m=net.utility.depth_m)
    net.add_pipe(tee_code, code, [tee, point], 100, depth_m=net.utility.depth_m, name="消火栓支管 DN100")


def _lay_service(net: Network, tee: tuple[float, float], tee_code: str, building: Building,
                 main_invert_m: float) -> None:
    """A service pipe from the main straight north to the building's south face."""
    u = net.utility
    entry = (tee[0], building.south_y_m)
    length_m = abs(entry[1] - tee[1])
    name = f"{building.name}{u.label}接入"
    if u.kind == "gravity":
        entry_invert = main_invert_m + 0.02 * length_m
        code = net.add_node(entry, "manhole", f"{name}检查井", invert_m=rounded(entry_invert), building=building.code)
        net.add_pipe(code, tee_code, [entry, tee], u.service_mm, invert_start_m=rounded(entry_invert),
                     invert_end_m=rounded(main_invert_m), building=building.code, name=f"{name}管 DN{u.service_mm}")
        return
    code = net.add_node(entry, "service", f"{name}点", depth_m=u.depth_m, building=building.code)
    net.add_pipe(tee_code, code, [tee, entry], u.service_mm, depth_m=u.depth_m, building=building.code,
                 name=f"{name}管 DN{u.service_mm}")


def build_networks(layout: Layout, roads: Graph, buildings: list[Building], pond: Polygon) -> list[Network]:
    """All seven utility networks."""
    return [build_network(u, layout, roads, buildings, pond) for u in UTILITIES]


# ---------------------------------------------------------------- IFC buildings

@dataclass
class IfcRoom:
    """An IfcSpace read back from a written model."""

    node_id: str
    name: str
    kind: str  # the Chinese room name, e.g. 开放办公区
    storey: str  # e.g. 2F
    area_m2: float
    rect_m: tuple[float, float, float, float]  # clear floor x0, y0, x1, y1 in model metres


@dataclass
class IfcModel:
    """What the device registry needs from one written office model."""

    building_id: str
    storeys: dict[str, str]  # storey name → node id
    rooms: list[IfcRoom]
    doors: list[tuple[str, str, str]]  # node id, storey, kind ("entrance", "fire")
    lifts: list[str]
    entrance_x_m: float  # centre of the main entrance door, model metres


def write_ifc_building(folder: Path, building: Building, storeys: int, seed: int,
                       progress: Callable[[int, int], None] | None) -> tuple[str, IfcModel]:
    """Write one office model for ``building`` and read back the nodes that devices attach to."""
    relative = f"buildings/{building.code}.ifc"
    path = write_office(folder / relative, storeys=storeys, copies=1, seed=seed, progress=progress,
                        names=[(building.name, f"Building {building.code}")])
    return relative, read_ifc_model(path, building.ifc_key or building.code)


def read_ifc_model(path: Path, key: str) -> IfcModel:
    """Spaces, storeys, access-controlled doors, lifts and the main entrance of an office model."""
    f = ifcopenshell.open(str(path))

    def node(entity: ifcopenshell.entity_instance) -> str:
        return f"ifc:{key}:{entity.GlobalId}"

    storeys = {s.Name: node(s) for s in f.by_type("IfcBuildingStorey")}
    rooms = []
    for space in f.by_type("IfcSpace"):
        quantities = ifcopenshell.util.element.get_psets(space)["Qto_SpaceBaseQuantities"]
        rooms.append(IfcRoom(node(space), space.Name, space.LongName.split()[0],
                             ifcopenshell.util.element.get_aggregate(space).Name, quantities["NetFloorArea"],
                             _space_rect_m(space)))
    doors, entrance_x_m = [], LENGTH_M / 2
    for door in f.by_type("IfcDoor"):
        common = ifcopenshell.util.element.get_psets(door).get("Pset_DoorCommon", {})
        storey = ifcopenshell.util.element.get_container(door).Name
        if common.get("IsExternal"):
            doors.append((node(door), storey, "entrance"))
            matrix = ifcopenshell.util.placement.get_local_placement(door.ObjectPlacement)
            entrance_x_m = float(matrix[0, 3]) + door.OverallWidth / 2
        elif common.get("FireRating", "").startswith("甲"):
            doors.append((node(door), storey, "fire"))
    return IfcModel(node(f.by_type("IfcBuilding")[0]), storeys, rooms, doors,
                    [node(t) for t in f.by_type("IfcTransportElement")], entrance_x_m)


def _space_rect_m(space: ifcopenshell.entity_instance) -> tuple[float, float, float, float]:
    """The clear floor rectangle of a generated space (an extruded profile at its placement), model metres."""
    x, y = ifcopenshell.util.placement.get_local_placement(space.ObjectPlacement)[:2, 3]
    solid = space.Representation.Representations[0].Items[0]
    xs, ys = zip(*solid.SweptArea.OuterCurve.Points.CoordList)
    return (rounded(x + min(xs)), rounded(y + min(ys)), rounded(x + max(xs)), rounded(y + max(ys)))


def ifc_anchor(frame: ParkFrame, building: Building) -> tuple[float, float]:
    """Where the model's local origin lands in the park CRS, so its plate fills the footprint."""
    return frame.to_crs(*model_offset_m(building))


# ---------------------------------------------------------------- devices

DEVICE_COLUMNS = ("code", "name", "type", "model", "host", "lon", "lat", "height_m", "status", "importance",
                  "description", "heading_deg", "tilt_deg", "hfov_deg", "range_m", "parent", "gateway",
                  "snapshot_url")
#: The IoT gateways: one per building (``GW-B01``), and outdoors one for the site's lights and cameras,
#: one for the car parks and one for the utility networks. A gateway publishes its devices' status.
SITE_GATEWAY, PARKING_GATEWAY, NETWORK_GATEWAY = "GW-SITE", "GW-PARKING", "GW-NETWORK"
#: Where the demo's cameras serve their rendered snapshot (twin itself serves it).
SNAPSHOT_URL = "/api/cameras/{code}/snapshot.png"
#: type → Chinese name, model, importance (1 most important).
DEVICE_TYPES = {
    "temperature_sensor": ("温度传感器", "TS-201 NTC温度传感器", 3),
    "humidity_sensor": ("湿度传感器", "HS-201 电容式湿度传感器", 3),
    "air_quality_sensor": ("CO2空气质量传感器", "AQ-300 NDIR CO2/PM2.5/TVOC", 3),
    "smoke_detector": ("感烟火灾探测器", "JTY-GD-G3 点型光电感烟探测器", 1),
    "energy_meter": ("电能表", "DTSD341 三相多功能电能表", 2),
    "water_meter": ("水表", "LXSG-50E 远传水表", 2),
    "camera": ("摄像机", "DS-2CD3T47 400万像素网络摄像机", 2),
    "access_door": ("门禁", "DS-K1T671 人脸识别门禁一体机", 2),
    "lift": ("电梯", "曳引式客梯 1000kg 1.75m/s", 1),
    "parking_sensor": ("车位检测器", "GM-100 地磁车位检测器", 3),
    "street_light": ("智慧路灯", "SL-120 LED单臂智慧路灯 120W", 3),
    "charging_pile": ("充电桩", "AC-7 交流充电桩 7kW", 2),
    "manhole_cover": ("智能井盖", "MC-10 井盖倾斜水位监测终端", 3),
    "pressure_sensor": ("压力传感器", "PT-100 压力变送器 0-1.6MPa", 1),
    "flow_sensor": ("流量计", "EMF-200 电磁流量计", 2),
    "level_sensor": ("液位计", "RL-80 雷达液位计", 2),
    "leak_detector": ("漏损监测仪", "LD-200 管道噪声漏损监测仪", 1),
    "people_counter": ("人数统计传感器", "PC-300 3D客流计数器 TOF people counter", 2),
    "weather_station": ("气象站", "QX-600 超声波气象站 Ultrasonic weather station", 2),
}
CAMERA_MODELS = {"bullet": "DS-2CD3T47 400万像素枪机", "dome": "DS-2DE4425 400万像素球机",
                 "lpr": "DS-TCG227 车牌识别抓拍机", "indoor": "DS-2CD3346 400万像素室内半球"}
CLIMATE_ROOMS = ("开放办公区", "会议室", "经理室", "门厅")
AIR_ROOMS = ("开放办公区", "会议室", "经理室")
LEASABLE_ROOMS = ("开放办公区", "会议室", "经理室")
PEOPLE_ROOMS = ("开放办公区", "会议室", "经理室")  # rooms people work in, each with a people counter
ENTRANCE_ROOM = ("门厅", "1F")  # (kind, storey) of the room behind the main entrance, counted at its door
COUNTER_HEIGHT_M = 2.4  # an overhead people counter, above the room's floor
COUNTER_INSET_M = 0.5  # from the entrance wall
WEATHER_STATION = "WS-01"
WEATHER_MAST_M = 3.0  # the weather station's mast above the roof
SMOKE_AREA_M2 = 60.0  # one smoke detector per this much floor (GB 50116, low ceilings)
LIGHT_SPACING_M = 30.0


@dataclass
class Registry:
    """The device rows, in the order they are added; codes are unique."""

    frame: ParkFrame
    rows: list[dict] = field(default_factory=list)
    codes: set[str] = field(default_factory=set)

    def add(self, code: str, kind: str, name: str, host: str | None = None,
            at: tuple[float, float, float] | None = None, *, gateway: str, description: str = "",
            parent: str | None = None, camera: tuple[float, float, float, float] | None = None,
            model: str | None = None) -> str:
        """Add one device reporting through ``gateway``; ``at`` is park-local (x, y, height above ground, or
        above the host's floor for a hosted device), ``camera`` (heading, tilt, hfov, range)."""
        if code in self.codes:
            raise ValueError(f"duplicate device code {code}")
        self.codes.add(code)
        type_name, default_model, importance = DEVICE_TYPES[kind]
        row = {"code": code, "name": f"{name}{type_name}", "type": kind, "model": model or default_model,
               "host": host or "", "status": "active", "importance": importance, "description": description,
               "parent": parent or "", "gateway": gateway}
        if at is not None:
            lon, lat = self.frame.lonlat(at[0], at[1])
            row.update(lon=f"{lon:.{LONLAT_DIGITS}f}", lat=f"{lat:.{LONLAT_DIGITS}f}", height_m=rounded(at[2], 2))
        if camera is not None:
            row.update(zip(("heading_deg", "tilt_deg", "hfov_deg", "range_m"), camera))
            row["snapshot_url"] = SNAPSHOT_URL.format(code=code)
        self.rows.append(row)
        return code


def building_gateway(building: Building) -> str:
    """The gateway of a building's devices (``GW-B01``)."""
    return f"GW-{building.code}"


def room_devices(reg: Registry, building: Building, model: IfcModel) -> None:
    """Climate, air and smoke sensors in every room, people counters in the rooms people work in and
    over the main entrance; access control on entrance and fire doors; lifts."""
    gw = building_gateway(building)
    for room in model.rooms:
        prefix = f"{building.code}-{room.storey}"
        label = f"{building.name}{room.storey}{room.kind}"
        if room.kind in CLIMATE_ROOMS:
            reg.add(f"TS-{prefix}-{room.name}", "temperature_sensor", label, room.node_id, gateway=gw)
            reg.add(f"HS-{prefix}-{room.name}", "humidity_sensor", label, room.node_id, gateway=gw)
        if room.kind in AIR_ROOMS:
            reg.add(f"AQ-{prefix}-{room.name}", "air_quality_sensor", label, room.node_id, gateway=gw)
        if room.kind in PEOPLE_ROOMS:
            reg.add(f"PC-{prefix}-{room.name}", "people_counter", label, room.node_id, gateway=gw)
        elif (room.kind, room.storey) == ENTRANCE_ROOM:
            entrance_counter(reg, building, room)
        if room.kind != "电梯井":
            for n in range(1, max(1, math.ceil(room.area_m2 / SMOKE_AREA_M2)) + 1):
                reg.add(f"SD-{prefix}-{room.name}-{n}", "smoke_detector", label, room.node_id, gateway=gw)
    for n, (door_id, storey, kind) in enumerate(model.doors, start=1):
        what = "主入口" if kind == "entrance" else "防火门"
        reg.add(f"AC-{building.code}-{storey}-{n:02d}", "access_door", f"{building.name}{storey}{what}", door_id, gateway=gw)
    for n, lift_id in enumerate(model.lifts, start=1):
        reg.add(f"LIFT-{building.code}-{n}", "lift", f"{building.name}{n}号", lift_id, gateway=gw)
    indoor_camera_devices(reg, building, model)


#: Indoor cameras: room kind → mountings, each (name, corner, aim); the corner picks the clear rectangle's
#: west/east (0/1) and south/north (0/1) side, the aim is a park-local direction ("diagonal": to the far corner).
INDOOR_CAMERAS = {
    "走廊": (("走廊西端", (0, 0), (1.0, 0.0)), ("走廊东端", (1, 1), (-1.0, 0.0))),
    "楼梯间": (("楼梯间", (0, 1), (0.0, -1.0)),),
    "门厅": (("门厅", (1, 1), "diagonal"),),
}
INDOOR_CAMERA_HEIGHT_M = 2.6  # above the room's floor, below the 3.4 m ceiling
INDOOR_CAMERA_INSET_M = 0.2  # from the corner's two walls


def model_offset_m(building: Building) -> tuple[float, float]:
    """Park-local (x, y) of an IFC building's model origin: model metres plus this are park-local."""
    x0, y0 = building.footprint.bounds[:2]
    return x0 - IFC_PLATE_MIN_M, y0 - IFC_PLATE_MIN_M


def entrance_counter(reg: Registry, building: Building, room: IfcRoom) -> None:
    """An overhead people counter just inside the main entrance (centred on the lobby's south wall,
    where the generated office puts its entrance door), counting the people in the lobby."""
    x_off, y_off = model_offset_m(building)
    x0, y0, x1, _ = room.rect_m
    reg.add(f"PC-{building.code}-{room.storey}-{room.name}", "people_counter",
            f"{building.name}{room.storey}{room.kind}主入口", room.node_id,
            ((x0 + x1) / 2 + x_off, y0 + COUNTER_INSET_M + y_off, COUNTER_HEIGHT_M),
            gateway=building_gateway(building), description="主入口门头上方")


def weather_devices(reg: Registry, buildings: list[Building], models: dict[str, IfcModel]) -> None:
    """The park's weather station on a mast on the roof of the first building (its IFC model when it has one)."""
    b = buildings[0]
    host = models[b.code].building_id if b.code in models else f"gis:buildings:{b.code}"
    centre = b.footprint.centroid
    reg.add(WEATHER_STATION, "weather_station", "园区", host, (centre.x, centre.y, b.height_m + WEATHER_MAST_M),
            gateway=SITE_GATEWAY, description=f"{b.name}屋面，风速风向、气温")


def indoor_camera_devices(reg: Registry, building: Building, model: IfcModel) -> None:
    """Ceiling-corner dome cameras in every corridor (one at each end), stairwell landing and lobby,
    looking along the room (``CAM-B01-2F-01``…), hosted by the room they hang in."""
    x_off, y_off = model_offset_m(building)
    count: dict[str, int] = {}
    rooms = sorted((r for r in model.rooms if r.kind in INDOOR_CAMERAS),
                   key=lambda r: (int(r.storey.rstrip("F")), list(INDOOR_CAMERAS).index(r.kind), r.name))
    for room in rooms:
        x0, y0, x1, y1 = room.rect_m
        for what, (east, north), aim in INDOOR_CAMERAS[room.kind]:
            x = x1 - INDOOR_CAMERA_INSET_M if east else x0 + INDOOR_CAMERA_INSET_M
            y = y1 - INDOOR_CAMERA_INSET_M if north else y0 + INDOOR_CAMERA_INSET_M
            dx, dy = ((x0 + x1 - 2 * x, y0 + y1 - 2 * y) if aim == "diagonal" else aim)
            count[room.storey] = count.get(room.storey, 0) + 1
            code = f"CAM-{building.code}-{room.storey}-{count[room.storey]:02d}"
            reg.add(code, "camera", f"{building.name}{room.storey}{what}", room.node_id,
                    (x + x_off, y + y_off, INDOOR_CAMERA_HEIGHT_M), gateway=building_gateway(building),
                    model=CAMERA_MODELS["indoor"],
                    camera=(reg.frame.heading_deg(dx, dy), -25.0, 90.0, 25.0))


def lod1_devices(reg: Registry, building: Building) -> None:
    """A block without rooms: entrance access control and lifts, hosted by the building."""
    host, gw = f"gis:buildings:{building.code}", building_gateway(building)
    reg.add(f"AC-{building.code}-1F-01", "access_door", f"{building.name}主入口", host,
            (building.entrance_x_m, building.south_y_m - 0.3, 2.2), gateway=gw)
    for n in range(1, (building.levels >= 3) + (building.levels >= 8) + 1):
        reg.add(f"LIFT-{building.code}-{n}", "lift", f"{building.name}{n}号", host, gateway=gw)


LEASE_COLUMNS = ("space", "status", "area_m2", "rent_cny_per_m2_day", "tenant")


@dataclass
class Lease:
    """One leasable room and its state for investment tours."""

    space: str
    status: str
    area_m2: float
    rent_cny_per_m2_day: float
    tenant: str


def plan_leases(building: Building, model: IfcModel, rng: random.Random) -> list[Lease]:
    """Offices and meeting rooms let floor by floor to one tenant each, about a third left vacant."""
    base_rent = rng.uniform(4.2, 6.0)
    tenants = {storey: rng.choice(TENANTS) for storey in sorted(model.storeys)}
    leases = []
    for room in model.rooms:
        if room.kind in LEASABLE_ROOMS:
            let = rng.random() < 0.65
            floor = int(room.storey.rstrip("F"))
            leases.append(Lease(room.node_id, "let" if let else "vacant", rounded(room.area_m2, 2),
                                rounded(base_rent + 0.1 * floor, 1), tenants[room.storey] if let else ""))
    return leases


def meter_devices(reg: Registry, buildings: list[Building], models: dict[str, IfcModel], leases: list[Lease],
                  sources: dict[str, str]) -> None:
    """Energy and water meters: park → building → storey → tenant unit."""
    reg.add("EM-PARK", "energy_meter", "园区10kV总进线", f"gis:network_nodes:{sources['power']}", gateway=SITE_GATEWAY)
    reg.add("WM-PARK", "water_meter", "园区给水总", f"gis:network_nodes:{sources['water']}", gateway=SITE_GATEWAY)
    let = {lease.space: lease for lease in leases if lease.status == "let"}
    for b in buildings:
        model = models.get(b.code)
        host, gw = model.building_id if model else f"gis:buildings:{b.code}", building_gateway(b)
        reg.add(f"EM-{b.code}", "energy_meter", f"{b.name}总", host, gateway=gw, parent="EM-PARK")
        reg.add(f"WM-{b.code}", "water_meter", f"{b.name}总", host, gateway=gw, parent="WM-PARK")
        storeys = model.storeys if model else {f"{n}F": host for n in range(1, b.levels + 1)}
        for storey, storey_host in sorted(storeys.items(), key=lambda kv: int(kv[0].rstrip("F"))):
            reg.add(f"EM-{b.code}-{storey}", "energy_meter", f"{b.name}{storey}楼层", storey_host, gateway=gw,
                    parent=f"EM-{b.code}")
        for room in model.rooms if model else ():
            lease = let.get(room.node_id)
            if lease:
                reg.add(f"EM-{b.code}-{room.name}", "energy_meter", f"{lease.tenant}{room.name}分户", room.node_id,
                        gateway=gw, parent=f"EM-{b.code}-{room.storey}", description=f"租户 {lease.tenant}")
            elif room.kind == "茶水间":
                reg.add(f"WM-{b.code}-{room.name}", "water_meter", f"{b.name}{room.storey}茶水间", room.node_id,
                        gateway=gw, parent=f"WM-{b.code}")


def road_devices(reg: Registry, roads: list[Feature]) -> None:
    """Street lights every ≤ 30 m on one side of every road."""
    n = 0
    for road in roads:
        (ax, ay), (bx, by) = road.geometry.coords
        length_m = road.geometry.length
        ux, uy = (bx - ax) / length_m, (by - ay) / length_m
        side_m = road.props["width_m"] / 2 + 1.0
        count = math.ceil(length_m / LIGHT_SPACING_M)
        for k in range(count):
            t = (k + 0.5) / count
            n += 1
            reg.add(f"SL-{n:03d}", "street_light", f"{road.props['name']}{n:03d}号",
                    at=(ax + (bx - ax) * t + uy * side_m, ay + (by - ay) * t - ux * side_m, 8.0),
                    gateway=SITE_GATEWAY, description=f"{road.code} {road.props['name']}")


def camera_devices(reg: Registry, layout: Layout, roads: Graph, buildings: list[Building], lots: list[Feature]) -> None:
    """Pole cameras at crossings, gates and parking lots; façade cameras on two corners of every building."""
    frame = reg.frame
    n = 0

    def camera(x: float, y: float, h: float, dx: float, dy: float, name: str, kind: str,
               gateway: str = SITE_GATEWAY, tilt: float = -20.0, hfov: float = 80.0, range_m: float = 60.0) -> None:
        nonlocal n
        n += 1
        reg.add(f"CAM-{n:03d}", "camera", name, None, (x, y, h), gateway=gateway, model=CAMERA_MODELS[kind],
                camera=(frame.heading_deg(dx, dy), tilt, hfov, range_m))

    for key in sorted(k for k in roads.nodes if len(k) == 2):
        x, y = roads.nodes[key]
        camera(x + 7.0, y + 7.0, 6.0, -1.0, -1.0, "路口监控", "dome", hfov=90.0)
    for gate in layout.gates:
        gx, gy = gate.point
        inward = (-math.copysign(1.0, gx) if abs(gx) > abs(layout.xs[-1]) else 0.0,
                  -math.copysign(1.0, gy) if abs(gy) > abs(layout.ys[-1]) else 0.0)
        across = (inward[1], -inward[0])
        for side, (dx, dy), kind in ((1.0, (-inward[0], -inward[1]), "lpr"), (-1.0, inward, "bullet")):
            what = "车牌识别" if kind == "lpr" else "出入口"
            camera(gx + inward[0] * 3.0 + across[0] * 7.0 * side, gy + inward[1] * 3.0 + across[1] * 7.0 * side, 5.0,
                   dx, dy, f"{gate.name}{what}", kind, tilt=-15.0, hfov=60.0, range_m=40.0)
    for b in buildings:
        x0, y0, x1, y1 = b.footprint.bounds
        h = min(6.0, b.height_m - 1.0)
        camera(x0 - 0.3, y0 - 0.3, h, -1.0, -1.0, f"{b.name}西南角", "bullet", building_gateway(b), tilt=-25.0,
               range_m=50.0)
        camera(x1 + 0.3, y1 + 0.3, h, 1.0, 1.0, f"{b.name}东北角", "bullet", building_gateway(b), tilt=-25.0,
               range_m=50.0)
    for lot in lots:
        x0, y0, x1, y1 = lot.geometry.bounds
        camera(x0 + 0.5, y0 + 0.5, 6.0, 1.0, 1.0, f"{lot.props['name']}西南", "dome", hfov=90.0)
        camera(x1 - 0.5, y1 - 0.5, 6.0, -1.0, -1.0, f"{lot.props['name']}东北", "dome", hfov=90.0)


def parking_devices(reg: Registry, spaces: list[Feature]) -> None:
    """A geomagnetic sensor in every bay; a charging pile at every fifth bay."""
    for k, space in enumerate(spaces):
        c = space.geometry.centroid
        host = f"gis:parking_spaces:{space.code}"
        reg.add(f"PS-{space.code}", "parking_sensor", f"{space.code}车位", host, (c.x, c.y, 0.0), gateway=PARKING_GATEWAY)
        if k % 5 == 0:
            x0, y0 = space.geometry.bounds[:2]
            reg.add(f"CP-{space.code}", "charging_pile", f"{space.code}车位", host, (c.x, y0 + 0.4, 0.0),
                    gateway=PARKING_GATEWAY)


LEAK_DETECTOR_EVERY = 4  # a noise logger on every fourth water main


def network_devices(reg: Registry, networks: list[Network], pond: Feature) -> None:
    """Manhole covers on manholes; pressure and flow at sources, hydrants, gas and heat services; leak
    detectors on water mains; pond level."""
    for net in networks:
        u = net.utility
        for node in net.nodes:
            p, props = node.geometry, node.props
            host = f"gis:network_nodes:{node.code}"
            depth_m = props.get("depth_m") or 0.0
            if props["node_type"] == "manhole":
                reg.add(f"MC-{node.code}", "manhole_cover", f"{u.label}检查井{node.code}", host, (p.x, p.y, 0.0), gateway=NETWORK_GATEWAY)
            elif props["node_type"] == "source":
                reg.add(f"PT-{node.code}", "pressure_sensor", f"{u.end_name}", host, (p.x, p.y, -depth_m), gateway=NETWORK_GATEWAY)
                reg.add(f"FT-{node.code}", "flow_sensor", f"{u.end_name}", host, (p.x, p.y, -depth_m), gateway=NETWORK_GATEWAY)
            elif props["node_type"] == "hydrant":
                reg.add(f"PT-{node.code}", "pressure_sensor", f"消火栓{node.code}", host, (p.x, p.y, 0.5), gateway=NETWORK_GATEWAY)
            elif props["node_type"] == "service" and u.name in ("gas", "heat"):
                kind = "pressure_sensor" if u.name == "gas" else "flow_sensor"
                reg.add(f"{kind[:1].upper()}T-{node.code}", kind, f"{props['name']}", host, (p.x, p.y, -depth_m), gateway=NETWORK_GATEWAY)
        if u.name == "water":
            mains = [pipe for pipe in net.pipes if pipe.props["diameter_mm"] == u.main_mm]
            for pipe in mains[::LEAK_DETECTOR_EVERY]:
                mid = pipe.geometry.interpolate(0.5, normalized=True)
                reg.add(f"LD-{pipe.code}", "leak_detector", f"给水管{pipe.code}", f"gis:pipes:{pipe.code}",
                        (mid.x, mid.y, -u.depth_m), gateway=NETWORK_GATEWAY)
    c = pond.geometry.representative_point()
    reg.add("LT-WT1", "level_sensor", f"{pond.props['name']}水位", f"gis:water:{pond.code}", (c.x, c.y, 0.0), gateway=NETWORK_GATEWAY)


# ---------------------------------------------------------------- writing

def _round_coords(value):
    """Coordinates rounded to millimetres, tuples as lists."""
    if isinstance(value, (tuple, list)):
        return [_round_coords(v) for v in value]
    return rounded(value)


def geojson_text(name: str, features: list[Feature], frame: ParkFrame) -> str:
    """A FeatureCollection in the park CRS, one feature per line, keys sorted, None properties left out."""
    head = {"type": "FeatureCollection", "name": name,
            "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{CRS.split(':')[1]}"}}}
    lines = []
    for f in features:
        geom = frame.geometry(f.geometry)
        if isinstance(geom, Polygon):
            geom = orient(geom)
        shape = mapping(geom)
        props = {"code": f.code, **{k: v for k, v in f.props.items() if v is not None}}
        geometry = {"type": shape["type"], "coordinates": _round_coords(shape["coordinates"])}
        lines.append(json.dumps({"type": "Feature", "properties": props, "geometry": geometry},
                                ensure_ascii=False, sort_keys=True, separators=(",", ":")))
    opening = json.dumps(head, ensure_ascii=False, sort_keys=True, separators=(",", ":"))[:-1] + ',"features":[\n'
    return opening + ",\n".join(lines) + "\n]}\n"


def csv_text(columns: Iterable[str], rows: Iterable[dict]) -> str:
    """CSV with a header, ``\\n`` line ends and empty cells for missing values."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def toml_value(value) -> str:
    """A TOML literal for a string, number, bool, or a list or (inline) table of them."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


#: layer key → (role, fields that the layer's columns carry under the same name).
LAYERS = {
    "boundary": ("boundary", ("name",)),
    "gates": ("gates", ("name",)),
    "roads": ("roads", ("name", "width_m")),
    "paths": ("paths", ("name", "width_m")),
    "buildings": ("buildings", ("name", "height_m", "levels", "storey_height_m")),
    "parking": ("parking", ("name", "capacity")),
    "parking_spaces": ("parking_spaces", ("name",)),
    "green": ("green", ("name",)),
    "water": ("water", ("name",)),
    "assembly_points": ("assembly_points", ("name", "capacity")),
    "pipes": ("pipes", ("utility", "diameter_mm", "depth_m", "invert_start_m", "invert_end_m", "material",
                        "start_node", "end_node")),
    "network_nodes": ("network_nodes", ("utility", "node_type", "depth_m", "invert_m")),
}


def scene_toml(frame: ParkFrame, ifc: list[tuple[Building, str]], seed: int, buildings: int, storeys: int,
               tours: list[dict], teams: list[dict]) -> str:
    """The scene file: CRS, origin, ground, IFC sources with anchors, layers, devices, leases, tours, the
    live configuration, emergency plans and teams."""
    parts = [f"# Generated by twin.generate_park (seed {seed}); regenerate, do not edit:\n"
             f"#   twin generate OUT_DIR --park --buildings {buildings} --ifc-buildings {len(ifc)} "
             f"--storeys {storeys} --seed {seed}\n",
             f"name = {toml_value(PARK_NAME)}\ncrs = {toml_value(CRS)}\n"
             f"origin = {toml_value([frame.easting, frame.northing, GROUND_M])}\n",
             "[ground]\n" + f"elevation_m = {GROUND_M!r}\n"]
    for building, path in ifc:
        easting, northing = ifc_anchor(frame, building)
        parts.append("[[ifc]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in (
            ("key", building.ifc_key), ("path", path), ("replaces", f"gis:buildings:{building.code}"))) +
            "[ifc.anchor]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in (
                ("easting", rounded(easting)), ("northing", rounded(northing)), ("elevation", GROUND_M),
                ("rotation_deg", frame.rotation_deg))))
    for key, (role, fields) in LAYERS.items():
        parts.append("[[layers]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in (
            ("key", key), ("path", f"gis/{key}.geojson"), ("role", role), ("id_field", "code"), ("crs", CRS))) +
            "[layers.fields]\n" + "".join(f"{name} = {toml_value(name)}\n" for name in fields))
    parts.append('[devices]\npath = "devices.csv"\n')
    parts.append('[leases]\npath = "leases.csv"\n')
    for tour in tours:
        parts.append("[[tours]]\n" + _toml_fields(tour, skip="stops") + "".join(
            "\n[[tours.stops]]\n" + _toml_fields(stop) for stop in tour.get("stops", [])))
    parts.append(live_toml())
    for plan in PLANS:
        parts.append("[[plans]]\n" + _toml_fields(plan, skip="steps") + "".join(
            "\n[[plans.steps]]\n" + _toml_fields(step) for step in plan["steps"]))
    parts += ["[[teams]]\n" + _toml_fields(team) for team in teams]
    parts += ["[[inspections]]\n" + _toml_fields(inspection) for inspection in INSPECTIONS]
    parts.append("[energy]\n" + _toml_fields(ENERGY))
    parts.append("[wall]\n" + _toml_fields(WALL))
    return "\n".join(parts)


def _toml_fields(table: dict, skip: str = "") -> str:
    return "".join(f"{k} = {toml_value(v)}\n" for k, v in table.items() if k != skip)


# ---------------------------------------------------------------- tours

TOUR_STOP_S = 8.0
UNIT_STOP_S = 6.0


def demo_tours(frame: ParkFrame, site: Site, models: dict[str, IfcModel]) -> list[dict]:
    """The demo's tours (as TOML tables): the park overview, and the investment tour of vacant units."""
    from_south = frame.heading_deg(0.0, -1.0)
    gate = gate_features(site.layout)[0]
    lake = site.grounds.water[0]
    lake_green = [f"gis:green:{g.code}" for g in site.grounds.green if g.props["name"] == "镜湖公园绿地"]
    ifc_ids = [models[b.code].building_id for b in site.buildings if b.code in models]
    rnd = ifc_ids or [f"gis:buildings:{b.code}" for b in site.buildings if "研发楼" in b.name]
    lots = [f"gis:parking:{lot.code}" for lot in site.lots]
    capacity = sum(lot.props["capacity"] for lot in site.lots)
    assembly = [f"gis:assembly_points:{a.code}" for a in site.grounds.assembly]
    stops = [
        {"eye": [*map(rounded, frame.to_crs(0.0, -430.0)), GROUND_M + 300.0],
         "target": [frame.easting, frame.northing, GROUND_M], "duration_s": TOUR_STOP_S,
         "caption": f"{PARK_NAME.split()[0]}全景：研发办公、中试厂房与生态绿地一体规划",
         "caption_en": "The whole park: R&D offices, pilot plants and green space planned as one"},
        {"node": f"gis:gates:{gate.code}", "azimuth_deg": from_south, "elevation_deg": 25.0, "distance_m": 90.0,
         "duration_s": TOUR_STOP_S, "caption": f"{gate.props['name']}：园区主入口，直通城市主干道",
         "caption_en": "The south gate, the park's main entrance from the city road",
         "highlight": [f"gis:gates:{gate.code}"]},
        {"node": rnd[len(rnd) // 2], "azimuth_deg": from_south, "elevation_deg": 30.0, "distance_m": 260.0,
         "duration_s": TOUR_STOP_S, "caption": "研发楼群：标准层研发办公，可整层或分单元租赁",
         "caption_en": "The R&D buildings: office floors let whole or by unit", "highlight": rnd},
    ]
    if lots:
        stops.append({"node": lots[0], "azimuth_deg": from_south, "elevation_deg": 45.0, "duration_s": TOUR_STOP_S,
                      "caption": f"地面停车场：共 {capacity} 个车位，配建充电桩",
                      "caption_en": f"Surface car parks: {capacity} spaces, with EV chargers", "highlight": lots})
    stops += [
        {"node": f"gis:water:{lake.code}", "azimuth_deg": from_south, "elevation_deg": 40.0, "duration_s": TOUR_STOP_S,
         "caption": f"{lake.props['name']}公园：园区中心的湖面与环湖步道",
         "caption_en": "The lake park: water and a lakeside walk at the heart of the park",
         "highlight": [f"gis:water:{lake.code}", *lake_green]},
        {"node": assembly[0], "azimuth_deg": from_south, "elevation_deg": 50.0, "distance_m": 120.0,
         "duration_s": TOUR_STOP_S, "caption": "应急集合点：广场与绿地兼作避难场所，步行可达",
         "caption_en": "Assembly points: squares and lawns double as shelters, all within walking distance",
         "highlight": assembly},
    ]
    return [{"key": "overview", "title": "园区总览", "title_en": "Park overview", "loop": True, "stops": stops},
            {"key": "vacant-units", "kind": "vacant_units", "title": "招商导览：空置房源",
             "title_en": "Investment tour: vacant units", "duration_s": UNIT_STOP_S}]


# ---------------------------------------------------------------- live

RED, GREEN, AMBER, GREY, YELLOW = "#e53935", "#43a047", "#fb8c00", "#757575", "#fdd835"
#: ``[[live.device_types]]`` of the demo: type → heartbeat_s, metrics (name → its table), commands.
LIVE_TYPES: dict[str, dict] = {
    "temperature_sensor": {"heartbeat_s": 300.0, "metrics": {
        "temperature": {"unit": "°C", "deadband": 0.2, "keepalive_s": 900.0, "scale": [16.0, 32.0]}}},
    "humidity_sensor": {"heartbeat_s": 300.0, "metrics": {
        "humidity": {"unit": "%RH", "deadband": 1.0, "keepalive_s": 900.0, "scale": [20.0, 80.0]}}},
    "air_quality_sensor": {"heartbeat_s": 300.0, "metrics": {
        "co2": {"unit": "ppm", "deadband": 20.0, "keepalive_s": 900.0, "scale": [400.0, 1500.0]},
        "pm25": {"unit": "µg/m³", "deadband": 2.0, "keepalive_s": 900.0, "scale": [0.0, 75.0]}}},
    "smoke_detector": {"heartbeat_s": 600.0, "metrics": {
        "smoke": {"kind": "boolean", "keepalive_s": 3600.0, "colours": {"true": RED, "false": GREEN}}}},
    "energy_meter": {"heartbeat_s": 900.0, "metrics": {
        "energy_kwh": {"unit": "kWh", "deadband": 1.0, "keepalive_s": 3600.0},
        "power_kw": {"unit": "kW", "deadband": 0.5, "keepalive_s": 900.0, "scale": [0.0, 2000.0]}}},
    "water_meter": {"heartbeat_s": 900.0, "metrics": {
        "volume_m3": {"unit": "m³", "deadband": 0.1, "keepalive_s": 3600.0},
        "flow_m3h": {"unit": "m³/h", "deadband": 0.1, "keepalive_s": 900.0, "scale": [0.0, 20.0]}}},
    "flow_sensor": {"heartbeat_s": 300.0, "metrics": {
        "flow_m3h": {"unit": "m³/h", "deadband": 0.1, "keepalive_s": 900.0, "scale": [0.0, 100.0]}}},
    "pressure_sensor": {"heartbeat_s": 300.0, "metrics": {
        "pressure_kpa": {"unit": "kPa", "deadband": 2.0, "keepalive_s": 900.0, "scale": [100.0, 700.0]}}},
    "level_sensor": {"heartbeat_s": 300.0, "metrics": {
        "level_m": {"unit": "m", "deadband": 0.01, "keepalive_s": 900.0, "scale": [0.0, 1.8]}}},
    "camera": {"heartbeat_s": 120.0, "metrics": {
        "recording": {"kind": "boolean", "keepalive_s": 3600.0, "colours": {"true": GREEN, "false": GREY}}}},
    "access_door": {"heartbeat_s": 300.0, "metrics": {
        "locked": {"kind": "boolean", "keepalive_s": 3600.0, "colours": {"true": GREEN, "false": AMBER}},
        "open": {"kind": "boolean", "keepalive_s": 3600.0, "colours": {"true": AMBER, "false": GREEN}}},
        "commands": {"actions": ["lock", "unlock"], "timeout_s": 5.0}},
    "street_light": {"heartbeat_s": 600.0, "metrics": {
        "on": {"kind": "boolean", "keepalive_s": 3600.0, "colours": {"true": YELLOW, "false": GREY}},
        "power_w": {"unit": "W", "deadband": 5.0, "keepalive_s": 3600.0, "scale": [0.0, 120.0]}},
        "commands": {"actions": ["on", "off"], "timeout_s": 5.0}},
    "charging_pile": {"heartbeat_s": 300.0, "metrics": {
        "charging": {"kind": "boolean", "keepalive_s": 3600.0, "colours": {"true": GREEN, "false": GREY}},
        "power_kw": {"unit": "kW", "deadband": 0.2, "keepalive_s": 900.0, "scale": [0.0, 7.0]}}},
    "parking_sensor": {"heartbeat_s": 900.0, "metrics": {
        "occupied": {"kind": "boolean", "keepalive_s": 3600.0, "colours": {"true": AMBER, "false": GREEN}}}},
    "manhole_cover": {"heartbeat_s": 1800.0, "metrics": {
        "open": {"kind": "boolean", "keepalive_s": 3600.0, "colours": {"true": RED, "false": GREEN}},
        "tilt_deg": {"unit": "°", "deadband": 1.0, "keepalive_s": 3600.0, "scale": [0.0, 30.0]}}},
    "leak_detector": {"heartbeat_s": 900.0, "metrics": {
        "leak": {"kind": "boolean", "keepalive_s": 3600.0, "colours": {"true": RED, "false": GREEN}},
        "noise_db": {"unit": "dB", "deadband": 1.0, "keepalive_s": 3600.0, "scale": [20.0, 80.0]}}},
    "lift": {"heartbeat_s": 120.0, "metrics": {
        "floor": {"deadband": 0.5, "keepalive_s": 900.0},
        "running": {"kind": "boolean", "keepalive_s": 900.0, "colours": {"true": GREEN, "false": GREY}},
        "fault": {"kind": "boolean", "keepalive_s": 3600.0, "colours": {"true": RED, "false": GREEN}}},
        "commands": {"actions": ["recall"], "timeout_s": 10.0}},
    "people_counter": {"heartbeat_s": 300.0, "metrics": {
        "people": {"unit": "persons", "deadband": 1.0, "keepalive_s": 900.0, "scale": [0.0, 20.0]}}},
    "weather_station": {"heartbeat_s": 300.0, "metrics": {
        "wind_speed_m_s": {"unit": "m/s", "deadband": 0.2, "keepalive_s": 900.0, "scale": [0.0, 15.0]},
        "wind_from_deg": {"unit": "°", "deadband": 5.0, "keepalive_s": 900.0},
        "air_temperature_c": {"unit": "°C", "deadband": 0.2, "keepalive_s": 900.0, "scale": [-10.0, 40.0]}}},
}
#: ``[[inspections]]`` of the demo (巡检): weekly lift checks and a daily fire round of building 1's ground floor.
INSPECTIONS = [
    {"key": "lifts-weekly", "title": "电梯周检", "route": ["dev:LIFT-B01-1", "dev:LIFT-B02-1", "dev:LIFT-B03-1"],
     "assignee": "物业工程部", "team": "engineering",
     "checklist": ["轿厢照明与通话正常", "平层准确", "门机开关无异响", "机房温度正常"], "every_h": 168.0,
     "start": "2026-01-05T09:00:00+08:00"},
    {"key": "fire-b01-daily", "title": "1号研发楼消防巡查",
     "route": ["dev:SD-B01-1F-A-101-1", "dev:SD-B01-1F-A-102-1", "dev:SD-B01-1F-A-103-1", "dev:SD-B01-1F-A-104-1"],
     "assignee": "安保巡逻队", "team": "security",
     "checklist": ["疏散通道畅通", "安全出口指示灯亮", "探测器指示灯正常", "灭火器压力在绿区"], "every_h": 24.0,
     "start": "2026-01-01T08:00:00+08:00"},
]
#: ``[energy]``: the park's time zone and grid emission factor (kg CO2e/kWh; see docs/energy.md).
ENERGY = {"timezone": "Asia/Shanghai", "emission_factors": {"electricity": 0.5703}}
#: ``[wall]``: the large screen tours the park overview after two minutes untouched.
WALL = {"idle_s": 120.0, "tour": "overview"}
#: ``[live.occupancy]``: the metric by which devices count the persons in their host space.
LIVE_OCCUPANCY = {"metric": "people"}
#: ``[live.weather]``: the station whose wind drives gas plumes, and its metrics.
LIVE_WEATHER = {"device": WEATHER_STATION, "wind_speed": "wind_speed_m_s", "wind_from": "wind_from_deg"}
#: The demo's MQTT convention (docs/scene-format.md): telemetry and status per device, status per gateway.
LIVE_BINDINGS = [{"topic": "park/{device}/telemetry"}, {"topic": "park/{device}/status", "status": True}]
GATEWAY_STATUS = "park/gateways/{gateway}/status"
#: ``[[live.rules]]`` of the demo, all four severities.
LIVE_RULES = [
    {"key": "smoke", "device_type": "smoke_detector", "metric": "smoke", "equals": True, "severity": "critical",
     "message": {"zh": "烟感报警", "en": "Smoke detected"}},
    {"key": "room-hot", "device_type": "temperature_sensor", "metric": "temperature", "above": 35.0, "for_s": 60.0,
     "severity": "major", "message": {"zh": "室温持续超过 35 °C", "en": "Room above 35 °C for a minute"}},
    {"key": "room-heating-fast", "device_type": "temperature_sensor", "metric": "temperature",
     "rate_above_per_min": 3.0, "severity": "minor",
     "message": {"zh": "室温每分钟上升超过 3 °C", "en": "Room warming faster than 3 °C a minute"}},
    {"key": "co2-high", "device_type": "air_quality_sensor", "metric": "co2", "above": 1500.0, "for_s": 300.0,
     "severity": "warning", "message": {"zh": "CO2 浓度持续偏高，请加强通风", "en": "CO2 high for 5 minutes: ventilate"}},
    {"key": "manhole-open", "device_type": "manhole_cover", "metric": "open", "equals": True, "severity": "major",
     "message": {"zh": "井盖开启", "en": "Manhole cover open"}, "workorder": "high"},
    {"key": "pipe-leak", "device_type": "leak_detector", "metric": "leak", "equals": True, "severity": "critical",
     "message": {"zh": "给水管道漏损", "en": "Water pipe leak"}, "linkage": "isolate", "workorder": "urgent"},
    {"key": "lift-fault", "device_type": "lift", "metric": "fault", "equals": True, "severity": "major",
     "message": {"zh": "电梯故障", "en": "Lift fault"}, "workorder": "high"},
    {"key": "pressure-range", "device_type": "pressure_sensor", "metric": "pressure_kpa", "outside": [150.0, 650.0],
     "severity": "minor", "message": {"zh": "管网压力超出 150–650 kPa", "en": "Pipe pressure outside 150–650 kPa"}},
    {"key": "lake-high", "device_type": "level_sensor", "metric": "level_m", "above": 1.6, "severity": "warning",
     "message": {"zh": "镜湖水位偏高", "en": "Lake level high"}},
]


#: ``[[plans]]`` of the demo: the fire plan a smoke alarm opens.
PLANS = [{
    "key": "fire", "title": "火灾应急预案", "title_en": "Fire emergency plan", "incident": "fire", "rules": ["smoke"],
    "steps": [
        {"at_s": 0.0, "action": "cameras", "text": "调取火点周边摄像机", "text_en": "Show the cameras that see the fire"},
        {"at_s": 0.0, "action": "dispatch", "team": "fire-station", "text": "派遣微型消防站",
         "text_en": "Dispatch the micro fire station"},
        {"at_s": 10.0, "action": "broadcast", "scope": "building", "text": "本楼应急广播：请沿疏散指示撤离",
         "text_en": "Broadcast to the building: leave by the marked routes"},
        {"at_s": 30.0, "action": "command", "device_type": "access_door", "command": "unlock", "scope": "building",
         "text": "解锁本楼门禁，打开疏散通道", "text_en": "Unlock the building's access doors"},
        {"at_s": 30.0, "action": "command", "device_type": "lift", "command": "recall", "scope": "building",
         "text": "电梯迫降首层", "text_en": "Recall the lifts to the ground floor"},
        {"at_s": 60.0, "action": "dispatch", "team": "security", "text": "派遣安保巡逻队疏导人员、警戒现场",
         "text_en": "Dispatch the security patrol to guide people out and cordon the scene"},
        {"at_s": 300.0, "action": "notify", "text": "集合点清点人数", "text_en": "Count people at the assembly points"},
    ]}]


def ground_floor_lobby(model: IfcModel) -> str:
    """The node id of an office model's ground-floor lobby."""
    return next(room.node_id for room in model.rooms if (room.kind, room.storey) == ENTRANCE_ROOM)


def demo_teams(site: Site, models: dict[str, IfcModel]) -> list[dict]:
    """The demo's ``[[teams]]``, each at a base in the park: the micro fire station and the first-aid room in
    the ground-floor lobbies of the first two office models, the security patrol at the main gate, the
    facilities engineers at the 10 kV switching station."""
    lobbies = [ground_floor_lobby(models[b.code]) for b in site.buildings if b.code in models]
    lobbies = lobbies or [f"gis:buildings:{site.buildings[0].code}"]
    power = next(net for net in site.networks if net.utility.name == "power")
    return [
        {"key": "fire-station", "name": "微型消防站", "name_en": "Micro fire station", "kind": "fire",
         "base": lobbies[0], "members": 6, "phone": "021-5088 0119", "turnout_s": 60.0},
        {"key": "security", "name": "安保巡逻队", "name_en": "Security patrol", "kind": "security",
         "base": f"gis:gates:{site.layout.gates[0].code}", "members": 4, "phone": "021-5088 0110", "turnout_s": 30.0},
        {"key": "medical", "name": "医务室", "name_en": "First aid room", "kind": "medical",
         "base": lobbies[min(1, len(lobbies) - 1)], "members": 2, "phone": "021-5088 0120", "turnout_s": 90.0},
        {"key": "engineering", "name": "物业工程部", "name_en": "Facilities engineers", "kind": "engineering",
         "base": f"gis:network_nodes:{power.nodes[0].code}", "members": 3, "phone": "021-5088 0168",
         "turnout_s": 120.0},
    ]


def live_toml() -> str:
    """The demo's ``[live]`` table: device types, bindings, alarm rules, occupancy and weather."""
    parts = [f"[live]\ngateway_status = {toml_value(GATEWAY_STATUS)}\n"]
    for kind, spec in LIVE_TYPES.items():
        text = f"[[live.device_types]]\ntype = {toml_value(kind)}\nheartbeat_s = {spec['heartbeat_s']!r}\n"
        for name, metric in spec["metrics"].items():
            text += f"[live.device_types.metrics.{name}]\n" + _toml_fields(metric)
        if "commands" in spec:
            text += "[live.device_types.commands]\n" + _toml_fields(spec["commands"])
        parts.append(text)
    parts += ["[[live.bindings]]\n" + _toml_fields(binding) for binding in LIVE_BINDINGS]
    parts += ["[[live.rules]]\n" + _toml_fields(rule) for rule in LIVE_RULES]
    parts += ["[live.occupancy]\n" + _toml_fields(LIVE_OCCUPANCY), "[live.weather]\n" + _toml_fields(LIVE_WEATHER)]
    return "\n".join(parts)


# ---------------------------------------------------------------- the park

@dataclass
class Site:
    """Everything laid out on the ground, in park-local metres."""

    layout: Layout
    graph: Graph
    roads: list[Feature]
    buildings: list[Building]
    lots: list[Feature]
    spaces: list[Feature]
    grounds: Grounds
    networks: list[Network]


def plan_site(layout: Layout, buildings: list[Building], seed: int) -> Site:
    """Roads, parking, grounds and utility networks around the placed buildings."""
    graph = road_graph(layout)
    roads = road_features(graph)
    lots, spaces = parking_features(layout)
    ground = grounds(layout, buildings, roads, random.Random(f"{seed}/grounds"))
    networks = build_networks(layout, graph, buildings, ground.water[0].geometry)
    return Site(layout, graph, roads, buildings, lots, spaces, ground, networks)


def gis_layers(site: Site) -> dict[str, list[Feature]]:
    """The scene's GIS layers by key (see ``LAYERS``)."""
    return {
        "boundary": [Feature("BND", site.layout.boundary, {"name": PARK_NAME})],
        "gates": gate_features(site.layout), "roads": site.roads,
        "paths": entrance_paths(site.layout, site.buildings) + site.grounds.paths,
        "buildings": building_features(site.buildings), "parking": site.lots, "parking_spaces": site.spaces,
        "green": site.grounds.green, "water": site.grounds.water, "assembly_points": site.grounds.assembly,
        "pipes": [p for net in site.networks for p in net.pipes],
        "network_nodes": [n for net in site.networks for n in net.nodes],
    }


def device_registry(site: Site, frame: ParkFrame, models: dict[str, IfcModel], leases: list[Lease]) -> Registry:
    """Every device of the park: in the IFC rooms, on the blocks, meters, roads, cameras, parking, networks."""
    registry = Registry(frame)
    for b in site.buildings:
        if b.code in models:
            room_devices(registry, b, models[b.code])
        else:
            lod1_devices(registry, b)
    sources = {net.utility.name: net.nodes[0].code for net in site.networks}  # nodes run from the source out
    meter_devices(registry, site.buildings, models, leases, sources)
    road_devices(registry, site.roads)
    camera_devices(registry, site.layout, site.graph, site.buildings, site.lots)
    parking_devices(registry, site.spaces)
    network_devices(registry, site.networks, site.grounds.water[0])
    weather_devices(registry, site.buildings, models)
    return registry


def write_files(folder: Path, files: dict[str, str]) -> None:
    """Write each text file (UTF-8) at its path relative to ``folder``."""
    for relative, text in files.items():
        path = folder / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{path}: cannot write ({exc.strerror})") from exc


def write_park(folder: str | Path, buildings: int = 10, ifc_buildings: int = 3, storeys: int = 5, seed: int = 2026,
               progress: Callable[[int, int], None] | None = None) -> Path:
    """Write a complete park scene into ``folder``; returns the path of its ``scene.toml``.

    ``progress(done, total)`` is called after every IFC storey and once at the end.
    The same arguments give byte-identical files.
    """
    if buildings < 1 or not 0 <= ifc_buildings <= buildings or storeys < 1:
        raise InputError(f"--buildings {buildings} --ifc-buildings {ifc_buildings} --storeys {storeys}: need "
                         "buildings ≥ 1, 0 ≤ ifc-buildings ≤ buildings, storeys ≥ 1")
    folder = Path(folder)
    total, done = ifc_buildings * storeys + 1, 0

    def tick(*_: int) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    frame, layout = park_frame(), plan_layout(buildings)
    placed = place_buildings(layout, buildings, ifc_buildings, storeys, random.Random(f"{seed}/buildings"))
    models, ifc_paths = {}, []
    for n, building in enumerate(b for b in placed if b.ifc_key):
        path, model = write_ifc_building(folder, building, storeys, seed + 101 * (n + 1), tick)
        building.entrance_x_m = building.footprint.bounds[0] - IFC_PLATE_MIN_M + model.entrance_x_m
        models[building.code] = model
        ifc_paths.append((building, path))
    site = plan_site(layout, placed, seed)
    lease_rng = random.Random(f"{seed}/leases")
    leases = [lease for b in placed if b.code in models for lease in plan_leases(b, models[b.code], lease_rng)]
    files = {f"gis/{key}.geojson": geojson_text(key, features, frame) for key, features in gis_layers(site).items()}
    files["devices.csv"] = csv_text(DEVICE_COLUMNS, device_registry(site, frame, models, leases).rows)
    files["leases.csv"] = csv_text(LEASE_COLUMNS, (vars(lease) for lease in leases))
    files["scene.toml"] = scene_toml(frame, ifc_paths, seed, buildings, storeys, demo_tours(frame, site, models),
                                     demo_teams(site, models))
    write_files(folder, files)
    tick()
    return folder / "scene.toml"
