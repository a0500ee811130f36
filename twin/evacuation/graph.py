"""The evacuation graph of a park, read from its BIM: places (spaces, stairs, outside) joined by
openings (doors, stair ends, exits).

Built from the park's nodes and render-batch geometry only, so it works on any IFC the importer reads:
spaces give plan outlines and areas; a door (its ``OverallWidth``, else its leaf's width) joins the
spaces its ``IfcRelSpaceBoundary`` records name,
else the spaces found a step either side of its leaf; a door with a space on one side only and open
ground on the other, on the lowest floor, is an exit. A stair (``IfcStair`` or a loose
``IfcStairFlight``) joins the space it starts in to the space it lands in on the storey above; its
riser and tread come from its property sets, else 7/11 inch.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import shapely

from twin.evacuation import sfpe
from twin.footprint import floor_print, node_triangles
from twin.park import Node, Park

log = logging.getLogger(__name__)

PROBE_M = 0.4  #: how far past a door leaf the spaces either side are looked for
EXIT_FLOOR_TOLERANCE_M = 1.2  #: an exit door's sill lies within this of the building's lowest floor
DEFAULT_STAIR_WIDTH_M = 1.1
DEFAULT_SPACE_HEIGHT_M = 3.0
OPEN_GAP_M = 0.3  #: spaces closer than twice this, with no door at all, are taken as open to each other
MIN_OPEN_M = 0.8  #: …along at least this much of their outline where no wall stands


@dataclass(eq=False)
class Place:
    """Somewhere occupants walk: a space, a stair, or the open ground outside a building."""

    id: str
    kind: str  # "space" | "stair" | "outside"
    name: str
    building: str | None
    storey: str | None
    floor_m: float  # park-frame height of the floor (a stair: its foot)
    height_m: float  # floor to ceiling (a stair: its rise)
    area_m2: float
    k_m_s: float = sfpe.K_LEVEL_M_S  # SFPE speed constant
    footprint: shapely.Geometry | None = None  # plan outline in the park frame
    length_m: float | None = None  # a stair's travel length along its slope
    code: str = ""  # its IFC Name alone (a room number), for lookups
    openings: list[int] = field(default_factory=list)


@dataclass(eq=False)
class Opening:
    """A passage between two places: a door, a stair end, or an exit door to the outside."""

    id: str
    kind: str  # "door" | "stair" | "exit"
    name: str
    places: tuple[int, int]
    width_m: float  # clear width
    point_m: np.ndarray  # park-frame centre of the passage at floor level
    head_m: float = 2.1  # height of the head above the floor (smoke spills under it)
    k_m_s: float = sfpe.K_LEVEL_M_S  # a stair end: the stair's speed constant

    @property
    def capacity_pps(self) -> float:
        """Most persons per second through it."""
        return sfpe.door_flow_pps(self.width_m, self.k_m_s)

    def other(self, place: int) -> int:
        a, b = self.places
        return b if place == a else a


@dataclass(eq=False)
class EvacuationGraph:
    """Places and openings with lookups by id and by name."""

    places: list[Place]
    openings: list[Opening]
    problems: list[str] = field(default_factory=list)  # one line per thing the graph could not read

    def __post_init__(self) -> None:
        self.place_index = {p.id: i for i, p in enumerate(self.places)}
        self.opening_index = {o.id: i for i, o in enumerate(self.openings)}
        for i, opening in enumerate(self.openings):
            for p in set(opening.places):
                self.places[p].openings.append(i)
        self.exits = [i for i, o in enumerate(self.openings) if o.kind == "exit"]
        self._xy = [(float(o.point_m[0]), float(o.point_m[1])) for o in self.openings]

    def spaces(self, building: str | None = None) -> list[int]:
        """The spaces, of one building if given."""
        return [i for i, p in enumerate(self.places) if p.kind == "space" and building in (None, p.building)]

    def place(self, key: str) -> int:
        """A place by id, GlobalId, name or room number (see :func:`lookup`)."""
        names = [(n, i) for i, p in enumerate(self.places) for n in {p.name, p.code} if n]
        return lookup(key, self.place_index, names, "space")

    def opening(self, key: str) -> int:
        """An opening (door or exit) by id, GlobalId or name."""
        return lookup(key, self.opening_index, [(o.name, i) for i, o in enumerate(self.openings)], "door")

    def walk_m(self, place: int, start_m: np.ndarray, opening: int) -> float:
        """Walking distance inside a place from a point to one of its openings (a stair: its length)."""
        p = self.places[place]
        if p.kind == "stair" and p.length_m is not None:
            return p.length_m
        x, y = self._xy[opening]
        return math.hypot(x - float(start_m[0]), y - float(start_m[1]))


def lookup(key: str, by_id: dict[str, int], names: list[tuple[str, int]], what: str) -> int:
    """An index by node id (``ifc:<GlobalId>``), bare GlobalId or a name that only one has."""
    if key in by_id:
        return by_id[key]
    found = sorted({i for node_id, i in by_id.items() if node_id.split(":")[-1] == key}
                   or {i for name, i in names if name == key})
    if len(found) == 1:
        return found[0]
    ids = {i: node_id for node_id, i in by_id.items()}
    if found:
        raise KeyError(f"{len(found)} {what}s are named {key!r}: give one's id ({', '.join(ids[i] for i in found[:4])}…)")
    raise KeyError(f"no {what} {key!r}: give its node id, GlobalId or unique name")


def build_graph(park: Park) -> EvacuationGraph:
    """The evacuation graph of every IFC building in a park."""
    return _Builder(park).build()


class _Builder:
    def __init__(self, park: Park):
        self.park = park
        self.triangles = node_triangles(park, ("spaces", "doors", "stairs"))
        self.places: list[Place] = []
        self.openings: list[Opening] = []
        self.problems: list[str] = []
        self.outside: dict[str | None, int] = {}
        self.many_buildings = len(park.of_kind("building")) > 1
        self.walls: list[tuple[shapely.Geometry, float, float]] | None = None  # plan print, bottom, top

    def build(self) -> EvacuationGraph:
        spaces = [n for n in self.park.of_kind("space") if n.id in self.triangles and n.ifc_class == "IfcSpace"]
        for node in spaces:
            self._add_space(node)
        self.prints = shapely.STRtree([p.footprint for p in self.places])
        self.space_index = {p.id: i for i, p in enumerate(self.places)}
        for node in self.park.of_class("IfcDoor"):
            if node.id in self.triangles:
                self._add_door(node)
        for node in self._stairs():
            self._add_stair(node)
        self._open_plan()
        return EvacuationGraph(self.places, self.openings, self.problems)

    def _label(self, node: Node) -> str:
        """Its name; in a park of several buildings, after its building's."""
        building = self.park.nodes.get(node.links.get("building", ""))
        own = _label(node)
        return f"{building.name} {own}" if building is not None and self.many_buildings else own

    # --- spaces ---------------------------------------------------------------------------------
    def _add_space(self, node: Node) -> None:
        tri = self.triangles[node.id]
        outline = floor_print(tri)
        z = tri[..., 2]
        storey = self.park.nodes.get(node.links.get("storey", ""))
        self.places.append(Place(
            id=node.id, kind="space", name=self._label(node), building=node.links.get("building"),
            storey=storey.id if storey else None, floor_m=float(z.min()),
            height_m=float(z.max() - z.min()) or DEFAULT_SPACE_HEIGHT_M,
            area_m2=max(float(outline.area), 0.01), footprint=outline, code=node.name))

    def _spaces_at(self, xy: np.ndarray, z_m: float) -> list[int]:
        """Spaces whose outline holds a plan point and whose height range holds ``z_m``."""
        hits = self.prints.query(shapely.Point(xy), predicate="intersects")
        return [int(i) for i in hits if self.places[i].kind == "space"
                and self.places[i].floor_m - 0.3 <= z_m <= self.places[i].floor_m + self.places[i].height_m]

    # --- doors ----------------------------------------------------------------------------------
    def _add_door(self, node: Node) -> None:
        tri = self.triangles[node.id]
        pts = tri.reshape(-1, 3)
        sill_m, head_m = float(pts[:, 2].min()), float(pts[:, 2].max())
        leaf_m, normal, centre = _leaf(pts[:, :2])
        width_m = _overall_width_m(node) or leaf_m
        probe_m = _thickness(pts[:, :2], normal) / 2 + PROBE_M
        sides = [self._spaces_at(centre + s * probe_m * normal, sill_m + 0.5) for s in (1, -1)]
        bounded = [self.space_index[s] for s in node.bounds_spaces if s in self.space_index]
        joined = bounded if len(bounded) >= 2 else list(dict.fromkeys(bounded + [s[0] for s in sides if s]))
        point = np.array([*centre, sill_m])
        name = self._label(node)
        if len(joined) >= 2:
            self.openings.append(Opening(node.id, "door", name, (joined[0], joined[1]), width_m, point,
                                         head_m - sill_m))
        elif len(joined) == 1 and self._is_exit(joined[0], sides, sill_m):
            outside = self._outside(self.places[joined[0]].building)
            self.openings.append(Opening(node.id, "exit", name, (joined[0], outside), width_m, point,
                                         head_m - sill_m))

    def _open_plan(self) -> None:
        """Neighbouring spaces on a floor with no door between them but an opening where no wall stands
        (an open-plan kitchen, a doorway); in a building modelled without walls, only spaces that
        have no door at all are taken as open to their neighbours."""
        joined = {frozenset(o.places) for o in self.openings}
        doored = {p for o in self.openings for p in o.places}
        for i, place in enumerate(self.places):
            if place.kind != "space":
                continue
            for j in self.prints.query(place.footprint.buffer(2 * OPEN_GAP_M)):
                other = self.places[j]
                if (j <= i or other.kind != "space" or other.building != place.building
                        or abs(other.floor_m - place.floor_m) > 0.3 or frozenset((i, j)) in joined):
                    continue
                if not self._walled(place.building) and i in doored and j in doored:
                    continue
                edge = self._open_edge(place, other)
                if edge.length >= MIN_OPEN_M:
                    joined.add(frozenset((i, j)))
                    point = np.array([*edge.centroid.coords[0], place.floor_m])
                    self.openings.append(Opening(f"open:{place.id}|{other.id}", "door", f"{place.name} ↔ {other.name}",
                                                 (i, int(j)), edge.length, point, place.height_m))
        reached = {p for o in self.openings for p in o.places}
        for place in self.places:
            if place.kind == "space" and self.places.index(place) not in reached:
                self.problems.append(f"space {place.name} ({place.id}) has no door and no open side: no way out")

    def _walled(self, building: str | None) -> bool:
        self._open_edge_setup()
        return building in self.wall_buildings

    def _open_edge_setup(self) -> None:
        if self.walls is None:
            walls = node_triangles(self.park, ("walls",))
            self.walls = [(floor_print(t), float(t[..., 2].min()), float(t[..., 2].max())) for t in walls.values()]
            self.wall_tree = shapely.STRtree([w[0] for w in self.walls])
            self.wall_buildings = {self.park.nodes[w].links.get("building") for w in walls}

    def _open_edge(self, place: Place, other: Place) -> shapely.Geometry:
        """The part of a space's outline along a neighbour that no wall stands on."""
        self._open_edge_setup()
        edge = place.footprint.boundary.intersection(other.footprint.buffer(2 * OPEN_GAP_M))
        z = place.floor_m + 1.0
        standing = [self.walls[k][0] for k in self.wall_tree.query(edge) if self.walls[k][1] <= z <= self.walls[k][2]]
        return edge.difference(shapely.union_all(standing).buffer(0.05)) if standing else edge

    def _is_exit(self, space: int, sides: list[list[int]], sill_m: float) -> bool:
        """A door with open ground on one side, on (about) the building's lowest floor."""
        if all(sides):
            return False
        building = self.places[space].building
        lowest = min(p.floor_m for p in self.places if p.kind == "space" and p.building == building)
        return sill_m <= lowest + EXIT_FLOOR_TOLERANCE_M

    def _outside(self, building: str | None) -> int:
        if building not in self.outside:
            self.outside[building] = len(self.places)
            name = self.park.nodes[building].name if building in self.park.nodes else ""
            self.places.append(Place(f"outside:{building}", "outside", name, building, None, 0.0, 0.0,
                                     math.inf, footprint=shapely.Point(0, 0)))
        return self.outside[building]

    # --- stairs ---------------------------------------------------------------------------------
    def _stairs(self) -> list[Node]:
        """IfcStair nodes, and flights that belong to no stair."""
        stairs = self.park.of_class("IfcStair")
        flights = [n for n in self.park.of_class("IfcStairFlight")
                   if self.park.nodes[n.parent].ifc_class != "IfcStair"]
        return stairs + flights

    def _stair_triangles(self, node: Node) -> np.ndarray | None:
        parts = [self.triangles[i] for i in (node.id, *node.children) if i in self.triangles]
        return np.concatenate(parts) if parts else None

    def _add_stair(self, node: Node) -> None:
        tri = self._stair_triangles(node)
        if tri is None:
            self.problems.append(f"stair {self._label(node)} ({node.id}): no geometry, left out")
            return
        pts = tri.reshape(-1, 3)
        foot_m, top_m = float(pts[:, 2].min()), float(pts[:, 2].max())
        outline = shapely.MultiPoint(pts[:, :2]).convex_hull
        building = node.links.get("building")
        lower = self._touching(outline, foot_m, building)
        upper = self._touching(outline, top_m, building, above=lower)
        if lower is None or upper is None:
            self.problems.append(f"stair {self._label(node)} ({node.id}): no space at its "
                                 f"{'foot' if lower is None else 'head'}, left out")
            return
        riser_m, tread_m = _riser_tread(node, self.park)
        rise_m = max(self.places[upper].floor_m - self.places[lower].floor_m, riser_m)
        length_m = rise_m * math.hypot(1.0, tread_m / riser_m)
        width_m = _stair_width(self.park, node, self.triangles)
        k = sfpe.stair_k_m_s(tread_m, riser_m)
        index = len(self.places)
        self.places.append(Place(node.id, "stair", self._label(node), building, node.links.get("storey"), foot_m,
                                 rise_m, max(width_m * length_m, 0.01), k, outline, length_m))
        for end, space in (("foot", lower), ("head", upper)):
            z = self.places[space].floor_m
            point = np.array([*np.asarray(outline.intersection(self.places[space].footprint).centroid.coords[0]
                                          if outline.intersects(self.places[space].footprint)
                                          else outline.centroid.coords[0]), z])
            self.openings.append(Opening(f"{node.id}:{end}", "stair", f"{self._label(node)} {end}", (space, index),
                                         width_m, point, rise_m, k))

    def _touching(self, outline: shapely.Geometry, z_m: float, building: str | None,
                  above: int | None = None) -> int | None:
        """The space of a building at a stair's end: on the floor nearest ``z_m``, overlapping the stair
        most (else nearest to it); for the head, strictly above the foot's floor."""
        spaces = [i for i, p in enumerate(self.places) if p.kind == "space" and p.building == building
                  and (above is None or p.floor_m > self.places[above].floor_m + 1.0)]
        if not spaces:
            return None
        floors = np.array([self.places[i].floor_m for i in spaces])
        level = floors[np.argmin(np.abs(floors - z_m))]
        if abs(level - z_m) > 1.5:
            return None
        on_level = [i for i, f in zip(spaces, floors) if abs(f - level) < 0.3]
        overlap = [(self.places[i].footprint.intersection(outline).area, i) for i in on_level]
        best = max(overlap)
        if best[0] > 0:
            return best[1]
        distance = [(self.places[i].footprint.distance(outline), i) for i in on_level]
        near = min(distance)
        return near[1] if near[0] < 2.0 else None


def _label(node: Node) -> str:
    return " ".join(filter(None, (node.name, node.long_name))) or node.id


def _leaf(xy: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """A door leaf's width, unit normal and centre, from the plan's minimum rotated rectangle."""
    rect = shapely.minimum_rotated_rectangle(shapely.MultiPoint(xy))
    corners = np.asarray(rect.exterior.coords)[:4] if rect.geom_type == "Polygon" else np.asarray(rect.coords)
    centre = corners.mean(axis=0)
    if len(corners) < 3:
        edge = corners[-1] - corners[0]
        return float(np.hypot(*edge)), _unit(np.array([-edge[1], edge[0]])), centre
    a, b = corners[1] - corners[0], corners[2] - corners[1]
    long_, short = (a, b) if np.hypot(*a) >= np.hypot(*b) else (b, a)
    return float(np.hypot(*long_)), _unit(short if np.hypot(*short) > 1e-6 else np.array([-long_[1], long_[0]])), centre


def _overall_width_m(node: Node) -> float | None:
    """A door's ``OverallWidth`` when the file gives a plausible one (its geometry may hold a swung leaf)."""
    width = node.properties.get("Attributes", {}).get("OverallWidth")
    return float(width) if isinstance(width, (int, float)) and 0.4 <= width <= 6.0 else None


def _thickness(xy: np.ndarray, normal: np.ndarray) -> float:
    along = xy @ normal
    return float(along.max() - along.min())


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.hypot(*v) or 1.0)


def _riser_tread(node: Node, park: Park) -> tuple[float, float]:
    """Riser and tread (m) from the stair's or its flights' property sets, else 7/11 inch."""
    for n in (node, *(park.nodes[c] for c in node.children)):
        for props in n.properties.values():
            riser, tread = props.get("RiserHeight"), props.get("TreadLength")
            if isinstance(riser, (int, float)) and isinstance(tread, (int, float)) and riser > 0 and tread > 0:
                return float(riser), float(tread)
    return sfpe.RISER_7_11_M, sfpe.TREAD_7_11_M


def _stair_width(park: Park, node: Node, triangles: dict[str, np.ndarray]) -> float:
    """The narrowest flight's width (short side of its plan rectangle), else a default."""
    widths = []
    for child in node.children:
        if park.nodes[child].ifc_class == "IfcStairFlight" and child in triangles:
            rect = shapely.minimum_rotated_rectangle(shapely.MultiPoint(triangles[child].reshape(-1, 3)[:, :2]))
            if rect.geom_type == "Polygon":
                c = np.asarray(rect.exterior.coords)
                widths.append(min(np.hypot(*(c[1] - c[0])), np.hypot(*(c[2] - c[1]))))
    return float(min(widths)) if widths else DEFAULT_STAIR_WIDTH_M
