"""Guided tours (``[[tours]]`` in ``scene.toml``): read them, check them against the park, expand the
vacant-units tour from the leases, and work out each stop's camera in the park frame.

A stop frames a node from a compass direction, or gives the camera's eye and target in the scene CRS.
Azimuth is the compass bearing from the framed node to the camera, clockwise from grid north
(0 = the camera stands north of the node looking south, 90 = east looking west); elevation is the
angle of the line of sight above the horizontal (90 would look straight down).

>>> frame_box((0, 0, 0, 10, 10, 10), azimuth_deg=180, elevation_deg=0)[1]
(5.0, 5.0, 5.0)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.park import Node, Park

if TYPE_CHECKING:
    from twin.scene import Scene, _Reader

Vec3 = tuple[float, float, float]

#: The viewport's view angle (vtk.js default, vertical); framing fits the node's box inside it.
VIEW_ANGLE_DEG = 30.0
#: Closest a framed camera comes to the node's centre (points and tiny boxes).
MIN_DISTANCE_M = 5.0
#: The default view direction: from the south-south-west, looking down at 35° (as the home view).
DEFAULT_AZIMUTH_DEG = 210.0
DEFAULT_ELEVATION_DEG = 35.0
#: The investment tour looks at each vacant unit from outside its building, from above.
VACANT_UNITS = "vacant_units"
UNIT_ELEVATION_DEG = 40.0
KINDS = (VACANT_UNITS,)

_TOUR_KEYS = {"key", "title", "title_en", "loop", "kind", "duration_s", "stops"}
_STOP_KEYS = {"node", "azimuth_deg", "elevation_deg", "distance_m", "eye", "target", "duration_s",
              "caption", "caption_en", "highlight"}
_FRAMING_KEYS = ("azimuth_deg", "elevation_deg", "distance_m")


@dataclass(frozen=True)
class StopSpec:
    """One stop as the scene file gives it: a node to frame, or an eye and target in the scene CRS."""

    duration_s: float
    node: str | None = None
    azimuth_deg: float = DEFAULT_AZIMUTH_DEG
    elevation_deg: float = DEFAULT_ELEVATION_DEG
    distance_m: float | None = None  # None: fit the node's box in the view
    eye: Vec3 | None = None  # scene CRS metres (easting, northing, elevation)
    target: Vec3 | None = None
    caption: str = ""
    caption_en: str = ""
    highlight: tuple[str, ...] = ()


@dataclass(frozen=True)
class TourSpec:
    """One ``[[tours]]`` table: its stops, and for ``kind = "vacant_units"`` the seconds per unit."""

    key: str
    title: str
    title_en: str = ""
    loop: bool = False
    kind: str | None = None
    duration_s: float | None = None
    stops: tuple[StopSpec, ...] = ()


@dataclass(frozen=True)
class Stop:
    """One stop ready to play: the camera in the park frame, what to highlight and say."""

    position_m: Vec3
    focal_point_m: Vec3
    duration_s: float
    caption: str = ""
    caption_en: str = ""
    highlight: tuple[str, ...] = ()

    def caption_in(self, lang: str) -> str:
        return self.caption_en if lang == "en" and self.caption_en else self.caption


@dataclass(frozen=True)
class Tour:
    """A tour of the loaded park (the vacant-units tour expanded to one stop per unit)."""

    key: str
    title: str
    title_en: str = ""
    loop: bool = False
    stops: tuple[Stop, ...] = ()

    def title_in(self, lang: str) -> str:
        return self.title_en if lang == "en" and self.title_en else self.title


# --- reading -----------------------------------------------------------------------------------
def read_tours(r: _Reader, data: dict[str, Any]) -> tuple[TourSpec, ...]:
    """The ``[[tours]]`` of a scene file; every problem goes to ``r`` naming its field."""
    return r.keyed(data, "tours", _tour)


def _tour(r: _Reader, where: str, t: dict) -> TourSpec | None:
    from twin.scene import _KEY_RE

    r.unknown(t, _TOUR_KEYS, where)
    key, title = r.text(t, "key", where, required=True), r.text(t, "title", where, required=True)
    if key is not None and not _KEY_RE.match(key):
        r.problem(f"{where}key", f"{key!r}: use letters, digits, '_' or '-'")
    loop = t.get("loop", False)
    if not isinstance(loop, bool):
        r.problem(f"{where}loop", f"must be true or false, not {loop!r}")
    kind = r.text(t, "kind", where)
    if kind is not None and kind not in KINDS:
        r.problem(f"{where}kind", f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    duration_s = _positive(r, t, "duration_s", where, required=kind == VACANT_UNITS)
    tables = t.get("stops", [])
    if not isinstance(tables, list) or not all(isinstance(s, dict) for s in tables):
        r.problem(f"{where}stops", "must be a list of tables ([[tours.stops]])")
        tables = []
    elif kind is None and not tables:
        r.problem(f"{where}stops", "missing (give [[tours.stops]], or kind = \"vacant_units\")")
    stops = [s for j, table in enumerate(tables) if (s := _stop(r, f"{where}stops[{j}].", table, duration_s))]
    if None in (key, title) or not isinstance(loop, bool):
        return None
    return TourSpec(key, title, r.text(t, "title_en", where) or "", loop, kind, duration_s, tuple(stops))


def _stop(r: _Reader, where: str, s: dict, default_duration_s: float | None) -> StopSpec | None:
    r.unknown(s, _STOP_KEYS, where)
    duration_s = _positive(r, s, "duration_s", where, required=default_duration_s is None)
    node = r.text(s, "node", where)
    eye, target = _vector(r, s, "eye", where), _vector(r, s, "target", where)
    if node is not None and ("eye" in s or "target" in s):
        r.problem(where.rstrip("."), "give either node or eye and target, not both")
    elif node is None and not ("eye" in s or "target" in s):
        r.problem(where.rstrip("."), "give node, or eye and target")
    elif node is None:
        for key in ("eye", "target"):
            if key not in s:
                r.problem(f"{where}{key}", "missing")
        for key in _FRAMING_KEYS:
            if key in s:
                r.problem(f"{where}{key}", "only for a stop that frames a node")
        if eye is not None and eye == target:
            r.problem(f"{where}target", "is the same point as eye")
    azimuth = r.number(s, "azimuth_deg", where, DEFAULT_AZIMUTH_DEG)
    elevation = r.number(s, "elevation_deg", where, DEFAULT_ELEVATION_DEG)
    if elevation is not None and not -89.0 <= elevation <= 89.0:
        r.problem(f"{where}elevation_deg", f"must lie between -89 and 89, not {elevation:g}")
    distance = _positive(r, s, "distance_m", where, required=False)
    highlight = s.get("highlight", [])
    if not (isinstance(highlight, list) and all(isinstance(h, str) and h.strip() for h in highlight)):
        r.problem(f"{where}highlight", f"must be a list of node ids, not {highlight!r}")
        highlight = []
    caption, caption_en = r.text(s, "caption", where) or "", r.text(s, "caption_en", where) or ""
    duration_s = duration_s or default_duration_s
    if duration_s is None or azimuth is None or elevation is None:
        return None
    return StopSpec(duration_s, node, azimuth, elevation, distance, eye, target, caption, caption_en,
                    tuple(highlight))


def _positive(r: _Reader, table: dict, key: str, where: str, required: bool) -> float | None:
    if key not in table:
        if required:
            r.problem(f"{where}{key}", "missing")
        return None
    value = r.number(table, key, where)
    if value is not None and not value > 0:
        r.problem(f"{where}{key}", f"must be more than 0, not {value:g}")
        return None
    return value


def _vector(r: _Reader, table: dict, key: str, where: str) -> Vec3 | None:
    value = table.get(key)
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 3
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        r.problem(f"{where}{key}", f"must be [easting, northing, elevation] in metres, not {value!r}")
        return None
    return tuple(float(v) for v in value)


# --- camera maths ------------------------------------------------------------------------------
def view_direction(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """The unit vector from the target towards the camera (x east, y north, z up)."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    return np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])


def fit_distance_m(bounds_m: tuple[float, ...], view_angle_deg: float = VIEW_ANGLE_DEG) -> float:
    """How far from a box's centre the camera stands so its bounding sphere fits the view angle."""
    half_diagonal_m = float(np.linalg.norm(np.subtract(bounds_m[3:], bounds_m[:3]))) / 2
    return max(half_diagonal_m / math.sin(math.radians(view_angle_deg) / 2), MIN_DISTANCE_M)


def frame_box(bounds_m: tuple[float, ...], azimuth_deg: float = DEFAULT_AZIMUTH_DEG,
              elevation_deg: float = DEFAULT_ELEVATION_DEG, distance_m: float | None = None) -> tuple[Vec3, Vec3]:
    """``(position_m, focal_point_m)`` looking at a box's centre from a compass direction, far enough
    (unless ``distance_m`` is given) that the whole box fits the view."""
    centre = (np.asarray(bounds_m[:3], float) + np.asarray(bounds_m[3:], float)) / 2
    distance = distance_m if distance_m is not None else fit_distance_m(bounds_m)
    position = centre + distance * view_direction(azimuth_deg, elevation_deg)
    return _vec(position), _vec(centre)


def stop_camera(stop: StopSpec, park: Park) -> tuple[Vec3, Vec3]:
    """A stop's ``(position_m, focal_point_m)`` in the park frame: its node framed, or its eye and
    target moved from the scene CRS by the park origin."""
    if stop.node is not None:
        return frame_box(park.get(stop.node).bounds_m, stop.azimuth_deg, stop.elevation_deg, stop.distance_m)
    return _vec(np.subtract(stop.eye, park.origin_m)), _vec(np.subtract(stop.target, park.origin_m))


def _vec(values: Any) -> Vec3:
    x, y, z = (float(v) for v in values)
    return x, y, z


# --- against the park --------------------------------------------------------------------------
def tour_problems(scene: Scene, park: Park) -> list[str]:
    """Problems only the built park shows: node ids that name nothing, nodes with nothing to frame,
    a vacant-units tour without a lease file. One line each, naming the scene file and field."""
    problems = []
    for i, tour in enumerate(scene.tours):
        where = f"{scene.file}: tours[{i}]"
        if tour.kind == VACANT_UNITS and scene.leases is None:
            problems.append(f"{where}.kind: {VACANT_UNITS} needs the lease file ([leases] path)")
        for j, stop in enumerate(tour.stops):
            at = f"{where}.stops[{j}]"
            if stop.node is not None and stop.node not in park:
                problems.append(f"{at}.node: no node {stop.node!r} in the park")
            elif stop.node is not None and park.get(stop.node).bounds_m is None:
                problems.append(f"{at}.node: {stop.node} has no geometry to frame")
            problems += [f"{at}.highlight[{k}]: no node {node!r} in the park"
                         for k, node in enumerate(stop.highlight) if node not in park]
    return problems


def build_tours(scene: Scene, park: Park) -> list[Tour]:
    """The scene's tours on a park that :func:`tour_problems` found sound, cameras in the park frame."""
    tours = []
    for spec in scene.tours:
        stops = [Stop(*stop_camera(s, park), s.duration_s, s.caption, s.caption_en, s.highlight)
                 for s in spec.stops]
        if spec.kind == VACANT_UNITS:
            stops += vacant_unit_stops(park, spec.duration_s)
        tours.append(Tour(spec.key, spec.title, spec.title_en, spec.loop, tuple(stops)))
    return tours


# --- the investment tour -----------------------------------------------------------------------
def vacant_units(park: Park) -> list[Node]:
    """Placed spaces whose lease is vacant, ordered by building (as the park lists them), floor, then name."""
    buildings = {n.id: i for i, n in enumerate(park.of_kind("building"))}

    def order(unit: Node) -> tuple[int, float, str]:
        building, storey = park.ancestor(unit.id, "building"), park.ancestor(unit.id, "storey")
        floor_m = (storey.elevation_m or 0.0) if storey else 0.0
        return buildings.get(building.id, -1) if building else -1, floor_m, unit.name
    spaces = [n for n in park.of_kind("space") if n.bounds_m is not None]
    return sorted(park.with_property("status", "vacant", pset="lease", among=spaces), key=order)


def vacant_unit_stops(park: Park, duration_s: float) -> list[Stop]:
    """One stop per vacant unit: seen from outside its building, highlighted, captioned with its
    building, floor, name and area."""
    return [_unit_stop(park, unit, duration_s) for unit in vacant_units(park)]


def _unit_stop(park: Park, unit: Node, duration_s: float) -> Stop:
    building, storey = park.ancestor(unit.id, "building"), park.ancestor(unit.id, "storey")
    outward = unit.centre_m - (building.centre_m if building and building.bounds_m else unit.centre_m)
    azimuth_deg = math.degrees(math.atan2(outward[0], outward[1])) if np.any(outward[:2]) else DEFAULT_AZIMUTH_DEG
    area_m2 = unit.properties["lease"].get("area_m2", math.nan)
    area = f"{area_m2:.1f} m²" if math.isfinite(area_m2) else ""
    label = f"{unit.name} {unit.long_name}".strip()
    zh = [_building_label(building, "zh"), storey.name if storey else "", label]
    en = [_building_label(building, "en"), (storey.long_name or storey.name) if storey else "", label]
    return Stop(*frame_box(unit.bounds_m, azimuth_deg, UNIT_ELEVATION_DEG), duration_s,
                " · ".join(filter(None, zh)) + (f"｜空置，面积 {area}" if area else "｜空置"),
                " · ".join(filter(None, en)) + (f" | vacant, {area}" if area else " | vacant"), (unit.id,))


def _building_label(building: Node | None, lang: str) -> str:
    """A building's name, with the code of the park block it stands for (IFC names repeat)."""
    if building is None:
        return ""
    name = building.long_name if lang == "en" and building.long_name else building.name
    code = building.code or building.links.get("footprint", "").rpartition(":")[2]
    return f"{name} ({code})" if code and code not in name else name
