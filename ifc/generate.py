"""Deterministic IFC4 generator for the park's office buildings (办公楼).

``write_office`` lays out ``copies`` buildings of ``storeys`` floors each: a 40 m × 18 m floor
plate with a central corridor, a core at the west end (stair, lift, toilets, electrical room)
and randomly sized offices and meeting rooms, then writes them through ifcopenshell's API.
A fixed seed gives a byte-identical file: layout, GlobalIds and the header time stamp all come
from the seed, never from the clock or uuid4.

>>> write_office("office.ifc", storeys=4)  # doctest: +SKIP
PosixPath('office.ifc')
"""
from __future__ import annotations

import os
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import hypot
from pathlib import Path

import ifcopenshell
import ifcopenshell.api.aggregate
import ifcopenshell.api.context
import ifcopenshell.api.feature
import ifcopenshell.api.geometry
import ifcopenshell.api.pset
import ifcopenshell.api.root
import ifcopenshell.api.spatial
import ifcopenshell.api.system
import ifcopenshell.api.type
import ifcopenshell.api.unit
import ifcopenshell.guid
import ifcopenshell.util.geolocation
from ifcopenshell.util.shape_builder import ShapeBuilder

from twin.errors import InputError

LENGTH_M = 40.0  # floor plate along x (east)
DEPTH_M = 18.0  # floor plate along y (north)
CORRIDOR_Y_M = (7.8, 10.2)  # corridor band between the south and north room bands
STOREY_HEIGHT_M = 3.6
SLAB_M = 0.2
EXT_WALL_M = 0.3
INT_WALL_M = 0.2
GAP_M = 24.0  # between neighbouring buildings
BUILDINGS_PER_ROW = 5
MODULE_M = 0.3  # room widths snap to this grid
LIFT_X_M = 2.6  # lift shaft at the west end of the corridor band
SITE_LAT_DEG, SITE_LON_DEG, SITE_ELEVATION_M = 31.2304, 121.4737, 4.0  # Shanghai business park
TIME_STAMP = "2026-01-01T00:00:00"
#: Entity lists the API assembles through Python sets, whose order varies from file to file.
SET_BUILT_LISTS = (("IfcUnitAssignment", "Units"), ("IfcRelAggregates", "RelatedObjects"),
                   ("IfcRelContainedInSpatialStructure", "RelatedElements"), ("IfcRelDefinesByType", "RelatedObjects"),
                   ("IfcRelAssignsToGroup", "RelatedObjects"))

#: Room kinds: Chinese name, English name.
ROOM_NAMES = {
    "office": ("开放办公区", "Open office"),
    "meeting": ("会议室", "Meeting room"),
    "manager": ("经理室", "Manager office"),
    "print": ("文印室", "Print room"),
    "pantry": ("茶水间", "Pantry"),
    "toilet_m": ("男卫生间", "Men's toilet"),
    "toilet_f": ("女卫生间", "Women's toilet"),
    "electrical": ("强电间", "Electrical room"),
    "stair": ("楼梯间", "Stairwell"),
    "lift": ("电梯井", "Lift shaft"),
    "lobby": ("门厅", "Lobby"),
    "corridor": ("走廊", "Corridor"),
}
#: Randomly placed rooms: kind, weight, width range in metres.
ROOM_MIX = (("office", 4, (7.2, 12.0)), ("meeting", 3, (4.2, 6.0)), ("manager", 2, (3.6, 4.5)),
            ("print", 1, (3.0, 3.6)))
MIN_ROOM_M = 3.6
STAIRWELL_M = 4.2  # width of each stairwell: one at the west end of the south band, one at the east end of the north
#: Floor-slab voids (x0, y0, x1, y1) over the two stairs' flights and the lift shaft.
SLAB_VOIDS_M = ((EXT_WALL_M / 2, EXT_WALL_M / 2, 4.1, 5.2),
                (LENGTH_M - STAIRWELL_M + INT_WALL_M / 2, CORRIDOR_Y_M[1] + INT_WALL_M / 2, LENGTH_M - 0.4,
                 CORRIDOR_Y_M[1] + 5.3),
                (EXT_WALL_M / 2, CORRIDOR_Y_M[0] + INT_WALL_M / 2, LIFT_X_M - INT_WALL_M / 2,
                 CORRIDOR_Y_M[1] - INT_WALL_M / 2))


@dataclass(frozen=True)
class FillType:
    """A door or window type (门窗类型), shared by all its occurrences through a type map."""

    ifc_class: str
    name: str
    width_m: float
    height_m: float
    sill_m: float = 0.0
    operation: str = "SINGLE_SWING_LEFT"
    fire_rating: str | None = None


FILL_TYPES = {
    "door": FillType("IfcDoor", "M1021 木门 Timber door", 1.0, 2.1),
    "door_double": FillType("IfcDoor", "M1824 双扇门 Double door", 1.8, 2.4, operation="DOUBLE_DOOR_SINGLE_SWING"),
    "door_fire": FillType("IfcDoor", "FM甲1021 甲级防火门 Fire door", 1.0, 2.1, fire_rating="甲级 1.5h"),
    "door_lift": FillType("IfcDoor", "DT1122 电梯层门 Lift landing door", 1.1, 2.2, operation="DOUBLE_DOOR_SLIDING",
                          fire_rating="乙级 1.0h"),
    "window": FillType("IfcWindow", "C1518 铝合金窗 Aluminium window", 1.5, 1.8, sill_m=0.9),
    "window_high": FillType("IfcWindow", "C0912 高窗 High window", 0.9, 1.2, sill_m=1.5),
}

STAIR_RISERS = 11  # per flight; the last riser steps onto the landing or floor
STAIR_GOING_M = 0.28


@dataclass(frozen=True)
class RiserType:
    """A storey-high MEP riser (立管) type in the core, and the distribution system it belongs to."""

    ifc_class: str
    predefined_type: str
    name: str
    room: str  # the core room it stands in, at ``offset`` from that room's clear south-west corner
    offset: tuple[float, float]
    radius_m: float | None  # a round pipe, or else a ``size`` rectangle
    size: tuple[float, float] = (0.0, 0.0)
    pset: tuple[str, tuple[tuple[str, object], ...]] = ("", ())
    system: tuple[str, str] = ("", "")  # PredefinedType, name


RISER_TYPES = {
    "riser_water": RiserType("IfcPipeSegment", "RIGIDSEGMENT", "JL DN100 给水立管 Water supply riser", "toilet_m",
                             (0.25, 0.2), 0.057, pset=("Pset_PipeSegmentTypeCommon", (
                                 ("Reference", "JL DN100"), ("NominalDiameter", 0.1), ("WorkingPressure", 1.0e6))),
                             system=("DOMESTICCOLDWATER", "给水系统 Water supply")),
    "riser_drain": RiserType("IfcPipeSegment", "RIGIDSEGMENT", "WL DN150 排水立管 Drainage stack", "toilet_m",
                             (0.6, 0.2), 0.08, pset=("Pset_PipeSegmentTypeCommon", (
                                 ("Reference", "WL DN150"), ("NominalDiameter", 0.15))),
                             system=("DRAINAGE", "排水系统 Drainage")),
    "riser_power": RiserType("IfcCableCarrierSegment", "CABLETRAYSEGMENT", "QJ 400×100 强电桥架 Power riser tray",
                             "electrical", (0.1, 0.3), None, (0.1, 0.4), pset=("Pset_CableCarrierSegmentTypeCommon", (
                                 ("Reference", "QJ 400×100"), ("NominalWidth", 0.4), ("NominalHeight", 0.1))),
                             system=("ELECTRICAL", "强电系统 Power")),
}


#: A local placement: origin ``(x, y, z)`` in metres and the x axis ``(dx, dy)`` in plan.
Frame = tuple[float, float, float, float, float]


@dataclass(frozen=True)
class Room:
    """A room on the grid: ``x0..x1 × y0..y1`` are wall centre lines in storey metres."""

    kind: str
    x0: float
    y0: float
    x1: float
    y1: float

    def inner(self) -> tuple[float, float, float, float]:
        """The clear floor rectangle inside the walls."""
        def half(v: float, edge: float) -> float:
            return (EXT_WALL_M if v == edge else INT_WALL_M) / 2
        return (self.x0 + half(self.x0, 0.0), self.y0 + half(self.y0, 0.0),
                self.x1 - half(self.x1, LENGTH_M), self.y1 - half(self.y1, DEPTH_M))


@dataclass
class Wall:
    """A straight wall on its centre line, with doors/windows at ``(kind, centre offset)``."""

    start: tuple[float, float]
    end: tuple[float, float]
    external: bool
    fills: list[tuple[str, float]] = field(default_factory=list)

    @property
    def thickness_m(self) -> float:
        return EXT_WALL_M if self.external else INT_WALL_M


@dataclass
class FloorPlan:
    """One storey's rooms and walls."""

    rooms: list[Room]
    walls: list[Wall]


def _snap(width_m: float) -> float:
    """Round a width to the planning module."""
    return round(round(width_m / MODULE_M) * MODULE_M, 2)


def _band(rng: random.Random, y0: float, y1: float, fixed: list[tuple[str, float]],
          east: tuple[str, float] | None = None) -> list[Room]:
    """Fill one room band from west to east: the ``fixed`` rooms first, then random ones, then ``east``."""
    rooms, x = [], 0.0
    for kind, width in fixed:
        rooms.append(Room(kind, x, y0, round(x + width, 2), y1))
        x = round(x + width, 2)
    end = LENGTH_M - (east[1] if east else 0.0)
    kinds, weights, widths = zip(*ROOM_MIX)
    while x < end:
        kind = rng.choices(kinds, weights)[0]
        width = _snap(rng.uniform(*widths[kinds.index(kind)]))
        if end - x - width < MIN_ROOM_M:
            width = end - x
        rooms.append(Room(kind, x, y0, round(x + width, 2), y1))
        x = round(x + width, 2)
    if east:
        rooms.append(Room(east[0], x, y0, LENGTH_M, y1))
    return rooms


def _room_walls(room: Room, facade_y: float, corridor_y: float, ground: bool) -> list[Wall]:
    """The façade, corridor and east partition walls of a band room; on the ground floor the east
    stairwell opens onto the street through its own fire exit."""
    width = room.x1 - room.x0
    door = {"stair": "door_fire", "electrical": "door_fire", "lobby": "door_double"}.get(
        room.kind, "door_double" if width >= 9 else "door")
    doors = [(door, width - 0.3 - FILL_TYPES[door].width_m / 2)]
    if room.kind == "office" and width >= 9:
        doors.append(("door", 1.3))
    if room.kind == "lobby":
        facade = [("door_double", width / 2), ("window", width * 0.2), ("window", width * 0.8)]
    elif room.kind == "stair" and ground and room.x1 == LENGTH_M:
        facade = [("door_fire", width / 2)]
    elif room.kind in ("stair", "toilet_m", "toilet_f", "electrical", "pantry", "print"):
        facade = [("window_high", width / 2)]
    else:
        count = max(1, int(width // 3.6))
        facade = [("window", (i + 0.5) * width / count) for i in range(count)]
    walls = [Wall((room.x0, facade_y), (room.x1, facade_y), True, facade),
             Wall((room.x0, corridor_y), (room.x1, corridor_y), False, doors)]
    if room.x1 < LENGTH_M:
        walls.append(Wall((room.x1, room.y0), (room.x1, room.y1), False))
    return walls


def plan_floor(rng: random.Random, ground: bool) -> FloorPlan:
    """Lay out one floor plate; the ground floor gets a lobby with the main entrance."""
    south_y, north_y = CORRIDOR_Y_M
    south = _band(rng, 0.0, south_y, [("stair", STAIRWELL_M), ("electrical", 2.2)] +
                  ([("lobby", _snap(rng.uniform(7.2, 9.0)))] if ground else []))
    north = _band(rng, north_y, DEPTH_M, [("toilet_m", 4.2), ("toilet_f", 3.6), ("pantry", 2.4)],
                  east=("stair", STAIRWELL_M))
    core = [Room("lift", 0.0, south_y, LIFT_X_M, north_y), Room("corridor", LIFT_X_M, south_y, LENGTH_M, north_y)]
    walls = [w for r in south for w in _room_walls(r, 0.0, south_y, ground)]
    walls += [w for r in north for w in _room_walls(r, DEPTH_M, north_y, ground)]
    half = EXT_WALL_M / 2
    walls += [
        Wall((LIFT_X_M, south_y), (LIFT_X_M, north_y), False, [("door_lift", (north_y - south_y) / 2)]),
        Wall((0.0, -half), (0.0, DEPTH_M + half), True),
        Wall((LENGTH_M, -half), (LENGTH_M, DEPTH_M + half), True,
             [("window", south_y / 2 + half), ("window_high", (south_y + north_y) / 2 + half),
              ("window", (north_y + DEPTH_M) / 2 + half)]),
    ]
    return FloorPlan(south + north + core, walls)


def _letters(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA (bijective base 26)."""
    text = ""
    index += 1
    while index:
        index, digit = divmod(index - 1, 26)
        text = chr(ord("A") + digit) + text
    return text


class _Writer:
    """Holds the IFC file, its Body context and the shared types while buildings are added."""

    def __init__(self, name: str) -> None:
        f = self.f = ifcopenshell.file(schema="IFC4")
        f.header.file_name.name = name
        f.header.file_name.time_stamp = TIME_STAMP
        self.shapes = ShapeBuilder(f)
        self.up = f.createIfcDirection((0.0, 0.0, 1.0))
        self.axes: dict[tuple[float, float], ifcopenshell.entity_instance] = {}
        project = ifcopenshell.api.root.create_entity(f, "IfcProject", name="智慧园区 Smart Park")
        ifcopenshell.api.unit.assign_unit(f, units=[
            ifcopenshell.api.unit.add_si_unit(f, unit_type=kind)
            for kind in ("LENGTHUNIT", "AREAUNIT", "VOLUMEUNIT", "PLANEANGLEUNIT")])
        model = ifcopenshell.api.context.add_context(f, context_type="Model")
        self.body = ifcopenshell.api.context.add_context(
            f, context_type="Model", context_identifier="Body", target_view="MODEL_VIEW", parent=model)
        self.site = self.spatial("IfcSite", "智慧园区", "Smart Park site", project, (0.0, 0.0, 0.0, 1.0, 0.0))
        self.site.RefLatitude = ifcopenshell.util.geolocation.dd2dms(SITE_LAT_DEG, use_us=True)
        self.site.RefLongitude = ifcopenshell.util.geolocation.dd2dms(SITE_LON_DEG, use_us=True)
        self.site.RefElevation = SITE_ELEVATION_M
        self.types = {key: self._fill_type(spec) for key, spec in FILL_TYPES.items()}
        self.types["stair"] = ifcopenshell.api.root.create_entity(
            f, "IfcStairType", predefined_type="HALF_TURN_STAIR", name="LT1 双跑楼梯 Dog-leg stair")
        ifcopenshell.api.geometry.assign_representation(f, self.types["stair"], self._stair_body())
        self.types.update((key, self._riser_type(spec)) for key, spec in RISER_TYPES.items())
        #: The current building's risers by type key, assigned to its systems when the building is done.
        self.risers: dict[str, list[ifcopenshell.entity_instance]] = {}

    def place(self, element: ifcopenshell.entity_instance, relative_to: ifcopenshell.entity_instance | None,
              frame: Frame) -> None:
        """Give ``element`` a local placement at ``frame`` inside ``relative_to`` (an IfcLocalPlacement)."""
        x, y, z, dx, dy = frame
        f = self.f
        if (dx, dy) not in self.axes:
            self.axes[dx, dy] = f.createIfcDirection((dx, dy, 0.0))
        position = f.createIfcAxis2Placement3D(f.createIfcCartesianPoint((x, y, z)), self.up, self.axes[dx, dy])
        element.ObjectPlacement = f.createIfcLocalPlacement(relative_to, position)

    def spatial(self, ifc_class: str, name: str, long_name: str, parent: ifcopenshell.entity_instance,
                frame: Frame) -> ifcopenshell.entity_instance:
        """A site, building or storey aggregated to ``parent``."""
        element = ifcopenshell.api.root.create_entity(self.f, ifc_class, name=name)
        element.LongName = long_name
        ifcopenshell.api.aggregate.assign_object(self.f, products=[element], relating_object=parent)
        self.place(element, getattr(parent, "ObjectPlacement", None), frame)
        return element

    def pset(self, element: ifcopenshell.entity_instance, name: str, values: dict) -> None:
        """Add property set ``name`` with ``values`` to ``element``."""
        ifcopenshell.api.pset.edit_pset(
            self.f, pset=ifcopenshell.api.pset.add_pset(self.f, product=element, name=name), properties=values)

    def box(self, width_m: float, depth_m: float, height_m: float) -> ifcopenshell.entity_instance:
        """A body extruding the rectangle ``[0, width] × [0, depth]`` up by ``height``."""
        b = self.shapes
        return b.get_representation(self.body, [b.extrude(b.profile(b.rectangle((width_m, depth_m))), height_m)])

    def _fill_type(self, spec: FillType) -> ifcopenshell.entity_instance:
        """A door or window type whose body the occurrences map."""
        f = self.f
        element = ifcopenshell.api.root.create_entity(f, spec.ifc_class + "Type", name=spec.name)
        if spec.ifc_class == "IfcDoor":
            element.PredefinedType, element.OperationType = "DOOR", spec.operation
            body = ifcopenshell.api.geometry.add_door_representation(
                f, context=self.body, overall_height=spec.height_m, overall_width=spec.width_m,
                operation_type=spec.operation)
        else:
            element.PredefinedType, element.PartitioningType = "WINDOW", "SINGLE_PANEL"
            body = ifcopenshell.api.geometry.add_window_representation(
                f, context=self.body, overall_height=spec.height_m, overall_width=spec.width_m)
        ifcopenshell.api.geometry.assign_representation(f, element, body)
        return element

    def _riser_type(self, spec: RiserType) -> ifcopenshell.entity_instance:
        """A pipe or cable carrier segment type with a storey-high body standing on its origin."""
        f, b = self.f, self.shapes
        element = ifcopenshell.api.root.create_entity(f, spec.ifc_class + "Type", spec.predefined_type, spec.name)
        if spec.radius_m is not None:
            profile = f.createIfcCircleProfileDef("AREA", None, None, spec.radius_m)
        else:
            profile = b.profile(b.rectangle(spec.size))
        ifcopenshell.api.geometry.assign_representation(
            f, element, b.get_representation(self.body, [b.extrude(profile, STOREY_HEIGHT_M)]))
        name, values = spec.pset
        self.pset(element, name, dict(values))
        return element

    def _stair_body(self) -> ifcopenshell.entity_instance:
        """A dog-leg stair in the stairwell's clear rectangle: two stepped flights and a half landing."""
        b, risers = self.shapes, STAIR_RISERS
        riser_m, going_m, flight_m = STOREY_HEIGHT_M / (2 * risers), STAIR_GOING_M, 1.6
        treads = risers - 1
        steps = [(0.0, 0.0)]
        for i in range(treads):
            steps += [(i * going_m, (i + 1) * riser_m), ((i + 1) * going_m, (i + 1) * riser_m)]
        steps += [(treads * going_m, treads * riser_m - 0.3), (going_m, 0.0)]
        run_m, landing_m, half_m = treads * going_m, 2.25, STOREY_HEIGHT_M / 2
        # Profiles are drawn in (run, rise); each flight's placement turns them upright.
        up = b.extrude(b.profile(b.polyline(steps, closed=True)), flight_m, position=(3.5, landing_m + run_m, 0.0),
                       position_z_axis=(-1.0, 0.0, 0.0), position_x_axis=(0.0, -1.0, 0.0))
        back = b.extrude(b.profile(b.polyline(steps, closed=True)), flight_m, position=(0.1, landing_m, half_m),
                         position_z_axis=(1.0, 0.0, 0.0), position_x_axis=(0.0, 1.0, 0.0))
        landing = b.extrude(b.profile(b.rectangle((3.4, landing_m))), SLAB_M, position=(0.1, 0.0, half_m - SLAB_M))
        return b.get_representation(self.body, [up, back, landing])

    def building(self, index: int, storeys: int, rng: random.Random, progress: Callable[[], None],
                 name: tuple[str, str] | None = None) -> None:
        """Add one building with its storeys, rooms and elements, ``name`` (Chinese, English) or 办公楼 A, B…"""
        letter = _letters(index)
        row, col = divmod(index, BUILDINGS_PER_ROW)
        name_zh, name_en = name or (f"办公楼 {letter}", f"Office Building {letter}")
        building = self.spatial("IfcBuilding", name_zh, name_en, self.site,
                                (col * (LENGTH_M + GAP_M), row * (DEPTH_M + GAP_M), 0.0, 1.0, 0.0))
        for level in range(storeys):
            elevation_m = round(level * STOREY_HEIGHT_M, 3)
            storey = self.spatial("IfcBuildingStorey", f"{level + 1}F", f"Level {level + 1}", building,
                                  (0.0, 0.0, elevation_m, 1.0, 0.0))
            storey.Elevation = elevation_m
            _Storey(self, storey, f"{letter}-{level + 1}").emit(
                plan_floor(rng, ground=level == 0), ground=level == 0, top=level == storeys - 1)
            progress()
        self.systems(building)

    def systems(self, building: ifcopenshell.entity_instance) -> None:
        """One distribution system per riser type serving ``building``, holding its risers of every storey."""
        f, code = self.f, building.Name.split()[-1]
        for key, spec in RISER_TYPES.items():
            risers = self.risers.pop(key, [])
            if not risers:
                continue
            predefined_type, name = spec.system
            system = ifcopenshell.api.system.add_system(f, ifc_class="IfcDistributionSystem")
            system.Name, system.PredefinedType = f"{code}-{name}", predefined_type
            ifcopenshell.api.system.assign_system(f, products=risers, system=system)
            f.create_entity("IfcRelServicesBuildings", GlobalId=ifcopenshell.guid.new(), RelatingSystem=system,
                            RelatedBuildings=[building])

    def finish(self, path: Path, seed: int) -> None:
        """Sort the lists the API builds from sets, replace its random GlobalIds with seeded ones, write."""
        for ifc_class, attribute in SET_BUILT_LISTS:
            for entity in self.f.by_type(ifc_class):
                setattr(entity, attribute, sorted(getattr(entity, attribute), key=lambda e: e.id()))
        rng = random.Random(f"guid/{seed}")
        for element in self.f.by_type("IfcRoot"):
            element.GlobalId = ifcopenshell.guid.compress(uuid.UUID(int=rng.getrandbits(128), version=4).hex)
        partial = path.with_name(path.name + ".part")  # never leave a half-written file at `path`
        try:
            self.f.write(str(partial))
            partial.replace(path)
        except (OSError, RuntimeError) as exc:  # ifcopenshell raises RuntimeError when it cannot write
            partial.unlink(missing_ok=True)
            raise InputError(f"{path}: cannot write ({exc})") from exc


class _Storey:
    """Emits one storey's spaces and elements, then aggregates, contains, types and places them in bulk.

    The bulk calls come before any placement exists: aggregate/contain calls rewrite existing
    placements through numpy (slow, and noisy in the last digits), and one call per storey rather
    than per element keeps the API's set-based list rebuilding linear.
    """

    def __init__(self, writer: _Writer, storey: ifcopenshell.entity_instance, code: str) -> None:
        self.w, self.f, self.storey, self.code = writer, writer.f, storey, code
        self.spaces: list[ifcopenshell.entity_instance] = []
        self.contained: list[ifcopenshell.entity_instance] = []
        self.frames: list[tuple[ifcopenshell.entity_instance, Frame]] = []
        self.typed: dict[str, list[ifcopenshell.entity_instance]] = {}
        self.voids: list[tuple[ifcopenshell.entity_instance, ifcopenshell.entity_instance, Frame]] = []
        self.fillings: list[tuple[ifcopenshell.entity_instance, ifcopenshell.entity_instance]] = []
        self.rooms: list[tuple[Room, ifcopenshell.entity_instance]] = []
        self.parts: list[tuple[ifcopenshell.entity_instance, list[ifcopenshell.entity_instance]]] = []

    def element(self, ifc_class: str, name: str, body: ifcopenshell.entity_instance | None, frame: Frame,
                predefined_type: str | None = None) -> ifcopenshell.entity_instance:
        """An element contained in this storey, placed at the storey-local ``frame``."""
        element = ifcopenshell.api.root.create_entity(self.f, ifc_class, predefined_type, name)
        if body is not None:
            ifcopenshell.api.geometry.assign_representation(self.f, element, body)
        self.contained.append(element)
        self.frames.append((element, frame))
        return element

    def emit(self, plan: FloorPlan, ground: bool, top: bool) -> None:
        """Emit the plan's spaces, walls, slabs, stair and (on the ground floor) lift."""
        for number, room in enumerate(plan.rooms, start=1):
            self.space(number, room)
        for number, wall in enumerate(plan.walls, start=1):
            self.wall(number, wall)
        self.slab("BASESLAB" if ground else "FLOOR", 0.0, voided=not ground)
        if top:
            self.slab("ROOF", STOREY_HEIGHT_M)
        stairs = []
        for number, room in enumerate((r for r in plan.rooms if r.kind == "stair"), start=1):
            x, y, _, _ = room.inner()
            stair = self.element("IfcStair", f"{self.code}-LT{number} 楼梯 Stair", None, (x, y, 0.0, 1.0, 0.0))
            risers = 2 * STAIR_RISERS
            self.w.pset(stair, "Pset_StairCommon", {
                "NumberOfRiser": risers, "NumberOfTreads": risers - 2,
                "RiserHeight": round(STOREY_HEIGHT_M / risers, 4), "TreadLength": STAIR_GOING_M, "FireExit": True})
            self.stair_flights(stair)
            stairs.append(stair)
        self.typed["stair"] = stairs
        for key, spec in RISER_TYPES.items():
            x, y, _, _ = next(r for r in plan.rooms if r.kind == spec.room).inner()
            riser = self.element(spec.ifc_class, f"{self.code}-{spec.name}", None,
                                 (round(x + spec.offset[0], 3), round(y + spec.offset[1], 3), 0.0, 1.0, 0.0),
                                 spec.predefined_type)
            self.typed[key] = [riser]
            self.w.risers.setdefault(key, []).append(riser)
        if ground:
            x, y, _, _ = next(r for r in plan.rooms if r.kind == "lift").inner()
            lift = self.element("IfcTransportElement", f"{self.code}-DT1 客梯 Passenger lift",
                                self.w.box(1.8, 1.6, 2.4), (x + 0.2, y + 0.2, 0.0, 1.0, 0.0), "ELEVATOR")
            self.w.pset(lift, "Pset_TransportElementCommon", {"CapacityPeople": 13, "CapacityWeight": 1000.0})
        self.commit()

    def stair_flights(self, stair: ifcopenshell.entity_instance) -> None:
        """The stair's two flights (梯段), to the half landing and on up; the body stays on the stair."""
        flights = []
        for number, name in enumerate(("上行梯段 Flight up", "折返梯段 Flight back"), start=1):
            flight = ifcopenshell.api.root.create_entity(
                self.f, "IfcStairFlight", "STRAIGHT", f"{stair.Name.split()[0]}-TD{number} {name}")
            flight.NumberOfRisers, flight.NumberOfTreads = STAIR_RISERS, STAIR_RISERS - 1
            flight.RiserHeight, flight.TreadLength = round(STOREY_HEIGHT_M / (2 * STAIR_RISERS), 4), STAIR_GOING_M
            self.w.pset(flight, "Pset_StairFlightCommon", {
                "NumberOfRiser": STAIR_RISERS, "NumberOfTreads": STAIR_RISERS - 1,
                "RiserHeight": flight.RiserHeight, "TreadLength": STAIR_GOING_M})
            flights.append(flight)
        self.parts.append((stair, flights))

    def door_boundaries(self, door: ifcopenshell.entity_instance, point: tuple[float, float], external: bool) -> None:
        """One physical IfcRelSpaceBoundary per room whose wall centre-line rectangle holds the door's centre."""
        px, py, eps = *point, 1e-6
        for room, space in self.rooms:
            if room.x0 - eps <= px <= room.x1 + eps and room.y0 - eps <= py <= room.y1 + eps:
                self.f.create_entity(
                    "IfcRelSpaceBoundary", GlobalId=ifcopenshell.guid.new(), Name="1stLevel",
                    RelatingSpace=space, RelatedBuildingElement=door, PhysicalOrVirtualBoundary="PHYSICAL",
                    InternalOrExternalBoundary="EXTERNAL" if external else "INTERNAL")

    def commit(self) -> None:
        """Aggregate the spaces, contain and type the elements, then place, void and fill."""
        f, w, here = self.f, self.w, self.storey.ObjectPlacement
        ifcopenshell.api.aggregate.assign_object(f, products=self.spaces, relating_object=self.storey)
        ifcopenshell.api.spatial.assign_container(f, products=self.contained, relating_structure=self.storey)
        for whole, parts in self.parts:
            ifcopenshell.api.aggregate.assign_object(f, products=parts, relating_object=whole)
        for key, elements in self.typed.items():
            ifcopenshell.api.type.assign_type(
                f, related_objects=elements, relating_type=w.types[key], should_map_representations=False)
            for element in elements:  # in creation order: assign_type would map them in set order
                ifcopenshell.api.type.map_type_representations(f, related_object=element, relating_type=w.types[key])
                if key in RISER_TYPES:  # assign_type clears an occurrence's PredefinedType that its type repeats
                    element.PredefinedType = RISER_TYPES[key].predefined_type
        for element, frame in self.frames:
            w.place(element, here, frame)
        for opening, host, frame in self.voids:
            ifcopenshell.api.feature.add_feature(f, feature=opening, element=host)
            w.place(opening, host.ObjectPlacement, frame)
        for opening, door_or_window in self.fillings:
            ifcopenshell.api.feature.add_filling(f, opening=opening, element=door_or_window)
            w.place(door_or_window, opening.ObjectPlacement, (0.0, -0.05, 0.0, 1.0, 0.0))

    def space(self, number: int, room: Room) -> None:
        """An IfcSpace with an extruded body and base quantities."""
        x0, y0, x1, y1 = room.inner()
        height_m = STOREY_HEIGHT_M - SLAB_M
        chinese, english = ROOM_NAMES[room.kind]
        space = ifcopenshell.api.root.create_entity(self.f, "IfcSpace", "SPACE", f"{self.code}{number:02d}")
        space.LongName = f"{chinese} {english}"
        ifcopenshell.api.geometry.assign_representation(self.f, space, self.w.box(x1 - x0, y1 - y0, height_m))
        qto = ifcopenshell.api.pset.add_qto(self.f, product=space, name="Qto_SpaceBaseQuantities")
        ifcopenshell.api.pset.edit_qto(self.f, qto=qto, properties={
            "NetFloorArea": round((x1 - x0) * (y1 - y0), 3),
            "GrossFloorArea": round((room.x1 - room.x0) * (room.y1 - room.y0), 3),
            "Height": height_m})
        self.w.pset(space, "Pset_SpaceCommon", {"Reference": english, "IsExternal": False})
        self.spaces.append(space)
        self.rooms.append((room, space))
        self.frames.append((space, (x0, y0, 0.0, 1.0, 0.0)))

    def wall(self, number: int, wall: Wall) -> None:
        """A wall, with an opening voiding it for each door or window that fills it."""
        (xs, ys), (xe, ye) = wall.start, wall.end
        length_m = hypot(xe - xs, ye - ys)
        t = wall.thickness_m
        body = ifcopenshell.api.geometry.add_wall_representation(
            self.f, context=self.w.body, length=length_m, height=STOREY_HEIGHT_M - SLAB_M, thickness=t, offset=-t / 2)
        kind = "外墙 Exterior wall" if wall.external else "内墙 Partition"
        element = self.element("IfcWall", f"{self.code}-W{number:02d} {kind}", body,
                               (xs, ys, 0.0, (xe - xs) / length_m, (ye - ys) / length_m),
                               "SOLIDWALL" if wall.external else "PARTITIONING")
        self.w.pset(element, "Pset_WallCommon", {
            "IsExternal": wall.external, "LoadBearing": wall.external,
            "FireRating": "2.00h" if wall.external else "1.00h", "Reference": f"{kind} {round(t * 1000)}"})
        for i, (key, centre_m) in enumerate(wall.fills, start=1):
            spec = FILL_TYPES[key]
            opening = ifcopenshell.api.root.create_entity(
                self.f, "IfcOpeningElement", "OPENING", f"{element.Name} O{i}")
            ifcopenshell.api.geometry.assign_representation(
                self.f, opening, ifcopenshell.api.geometry.add_wall_representation(
                    self.f, context=self.w.body, length=spec.width_m, height=spec.height_m, thickness=t + 0.1,
                    offset=-(t + 0.1) / 2))
            self.voids.append((opening, element, (round(centre_m - spec.width_m / 2, 3), 0.0, spec.sill_m, 1.0, 0.0)))
            code = spec.name.split()[0]
            item = ifcopenshell.api.root.create_entity(self.f, spec.ifc_class, name=f"{self.code}-{code}")
            item.OverallWidth, item.OverallHeight = spec.width_m, spec.height_m
            self.contained.append(item)
            self.typed.setdefault(key, []).append(item)
            self.fillings.append((opening, item))
            if spec.ifc_class == "IfcDoor":
                along = centre_m / length_m
                self.door_boundaries(item, (xs + (xe - xs) * along, ys + (ye - ys) * along), wall.external)
            common = {"IsExternal": wall.external, "Reference": code}
            if spec.fire_rating:
                common["FireRating"] = spec.fire_rating
            self.w.pset(item, f"Pset_{spec.ifc_class[3:]}Common", common)

    def slab(self, predefined_type: str, top_m: float, voided: bool = False) -> None:
        """A slab over the whole plate, its top at ``top_m``; upper floors are voided for stair and lift."""
        half = EXT_WALL_M / 2
        outline = [(-half, -half), (LENGTH_M + half, -half), (LENGTH_M + half, DEPTH_M + half),
                   (-half, DEPTH_M + half)]
        body = ifcopenshell.api.geometry.add_slab_representation(
            self.f, context=self.w.body, depth=SLAB_M, polyline=outline)
        name = "屋面板 Roof slab" if predefined_type == "ROOF" else "楼板 Floor slab"
        slab = self.element("IfcSlab", f"{self.code}-{name}", body, (0.0, 0.0, top_m - SLAB_M, 1.0, 0.0),
                            predefined_type)
        self.w.pset(slab, "Pset_SlabCommon", {"IsExternal": predefined_type == "ROOF", "LoadBearing": True})
        for i, (x0, y0, x1, y1) in enumerate(SLAB_VOIDS_M if voided else (), start=1):
            opening = ifcopenshell.api.root.create_entity(self.f, "IfcOpeningElement", "OPENING", f"{slab.Name} O{i}")
            ifcopenshell.api.geometry.assign_representation(self.f, opening, self.w.box(x1 - x0, y1 - y0, SLAB_M + 0.2))
            self.voids.append((opening, slab, (x0, y0, -0.1, 1.0, 0.0)))


def write_office(path: str | Path, storeys: int = 4, copies: int = 1, seed: int = 2026,
                 progress: Callable[[int, int], None] | None = None,
                 names: Sequence[tuple[str, str]] = ()) -> Path:
    """Write an IFC4 park of ``copies`` office buildings with ``storeys`` floors each; returns the path.

    ``names`` name the buildings in order, (Chinese, English) (the rest are 办公楼 A, B…).
    ``progress(done, total)`` is called after every storey. The same arguments give the same bytes.
    """
    if storeys < 1 or copies < 1:
        raise InputError(f"--storeys {storeys} --copies {copies}: both must be at least 1")
    path = Path(path)
    try:  # fail before a minute of work, not after
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot create its folder ({exc.strerror})") from exc
    if not os.access(path.parent, os.W_OK):
        raise InputError(f"{path}: folder is not writable")
    rng = random.Random(seed)
    writer = _Writer(f"twin-office-s{storeys}-c{copies}-seed{seed}.ifc")
    total, done = storeys * copies, 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    for index in range(copies):
        writer.building(index, storeys, rng, tick, names[index] if index < len(names) else None)
    writer.finish(path, seed)
    return path
