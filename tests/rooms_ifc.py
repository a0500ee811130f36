"""Plain test buildings written as IFC4 (metres) for the evacuation verification tests.

Rooms are axis-aligned rectangles, each one IfcSpace whose extruded body is its clear floor; rooms
that share a wall share an edge. Doors are boxes ``width × wall × 2.1 m`` centred on a room edge,
bounding (IfcRelSpaceBoundary) every room whose edge holds their centre: a door on an outer wall
bounds one room only, so the evacuation graph reads it as an exit. No walls are written.

>>> write_rooms("two.ifc", [Room("A", 0, 0, 4, 4), Room("B", 4, 0, 4, 4)],
...             [Door("A-B", 4, 2, 1, "y"), Door("Exit", 0, 2, 1, "y")])  # doctest: +SKIP
PosixPath('two.ifc')
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ifcopenshell
import ifcopenshell.api.aggregate
import ifcopenshell.api.context
import ifcopenshell.api.geometry
import ifcopenshell.api.root
import ifcopenshell.api.spatial
import ifcopenshell.api.unit
import ifcopenshell.guid
import pytest
from ifcopenshell.util.shape_builder import ShapeBuilder

from conftest import IFC_DIR
from ifc.importer import import_ifc
from twin.evacuation.graph import EvacuationGraph, build_graph

DOOR_HEIGHT_M = 2.1
EDGE_EPS_M = 1e-6


@dataclass
class Room:
    """A room's clear floor ``x .. x + width × y .. y + depth`` on storey ``storey`` (0 = ground)."""

    name: str
    x_m: float
    y_m: float
    width_m: float
    depth_m: float
    storey: int = 0

    def holds_on_edge(self, x_m: float, y_m: float) -> bool:
        """Whether the point lies on this room's rectangle outline."""
        x1, y1 = self.x_m + self.width_m, self.y_m + self.depth_m
        inside = self.x_m - EDGE_EPS_M <= x_m <= x1 + EDGE_EPS_M and self.y_m - EDGE_EPS_M <= y_m <= y1 + EDGE_EPS_M
        return inside and min(abs(x_m - self.x_m), abs(x_m - x1), abs(y_m - self.y_m), abs(y_m - y1)) <= EDGE_EPS_M


@dataclass
class Door:
    """A door centred at ``(x, y)`` in a wall running along ``along`` ("x" or "y") on storey ``storey``."""

    name: str
    x_m: float
    y_m: float
    width_m: float
    along: str
    storey: int = 0


class _Writer:
    """An IFC4 file with a project, site, building, Body context and one storey per level used."""

    def __init__(self, storey_height_m: float) -> None:
        f = self.f = ifcopenshell.file(schema="IFC4")
        self.shapes = ShapeBuilder(f)
        self.storey_height_m = storey_height_m
        project = ifcopenshell.api.root.create_entity(f, "IfcProject", name="Test rooms")
        ifcopenshell.api.unit.assign_unit(f, units=[ifcopenshell.api.unit.add_si_unit(f, unit_type=kind)
                                                    for kind in ("LENGTHUNIT", "AREAUNIT", "VOLUMEUNIT")])
        model = ifcopenshell.api.context.add_context(f, context_type="Model")
        self.body = ifcopenshell.api.context.add_context(
            f, context_type="Model", context_identifier="Body", target_view="MODEL_VIEW", parent=model)
        site = self.spatial("IfcSite", "Site", project, 0.0)
        self.building = self.spatial("IfcBuilding", "Test building", site, 0.0)
        self.storeys: dict[int, ifcopenshell.entity_instance] = {}

    def spatial(self, ifc_class: str, name: str, parent: ifcopenshell.entity_instance,
                z_m: float) -> ifcopenshell.entity_instance:
        """A site, building or storey aggregated to ``parent``, ``z_m`` above it."""
        element = ifcopenshell.api.root.create_entity(self.f, ifc_class, name=name)
        ifcopenshell.api.aggregate.assign_object(self.f, products=[element], relating_object=parent)
        self.place(element, getattr(parent, "ObjectPlacement", None), (0.0, 0.0, z_m))
        return element

    def storey(self, level: int) -> ifcopenshell.entity_instance:
        """The storey of ``level``, made on first use."""
        if level not in self.storeys:
            elevation_m = level * self.storey_height_m
            self.storeys[level] = self.spatial("IfcBuildingStorey", f"Level {level}", self.building, elevation_m)
            self.storeys[level].Elevation = elevation_m
        return self.storeys[level]

    def place(self, element: ifcopenshell.entity_instance, relative_to: ifcopenshell.entity_instance | None,
              origin: tuple[float, float, float]) -> None:
        """Give ``element`` an unrotated local placement at ``origin`` inside ``relative_to``."""
        element.ObjectPlacement = self.f.createIfcLocalPlacement(
            relative_to, self.f.createIfcAxis2Placement3D(self.f.createIfcCartesianPoint(origin)))

    def box(self, element: ifcopenshell.entity_instance, width_m: float, depth_m: float, height_m: float) -> None:
        """Give ``element`` a body extruding ``[0, width] × [0, depth]`` up by ``height``."""
        b = self.shapes
        ifcopenshell.api.geometry.assign_representation(self.f, element, b.get_representation(
            self.body, [b.extrude(b.profile(b.rectangle((width_m, depth_m))), height_m)]))

    def room(self, room: Room) -> ifcopenshell.entity_instance:
        """An IfcSpace aggregated to its storey, its body the room's clear floor a storey high."""
        storey = self.storey(room.storey)
        space = ifcopenshell.api.root.create_entity(self.f, "IfcSpace", "SPACE", room.name)
        ifcopenshell.api.aggregate.assign_object(self.f, products=[space], relating_object=storey)
        self.box(space, room.width_m, room.depth_m, self.storey_height_m)
        self.place(space, storey.ObjectPlacement, (room.x_m, room.y_m, 0.0))
        return space

    def door(self, door: Door, wall_m: float, spaces: list[ifcopenshell.entity_instance]) -> None:
        """An IfcDoor contained in its storey, bounding ``spaces`` (one: an outer wall)."""
        storey = self.storey(door.storey)
        element = ifcopenshell.api.root.create_entity(self.f, "IfcDoor", "DOOR", door.name)
        element.OverallWidth, element.OverallHeight = door.width_m, DOOR_HEIGHT_M
        ifcopenshell.api.spatial.assign_container(self.f, products=[element], relating_structure=storey)
        size = (door.width_m, wall_m) if door.along == "x" else (wall_m, door.width_m)
        self.box(element, *size, DOOR_HEIGHT_M)
        self.place(element, storey.ObjectPlacement, (door.x_m - size[0] / 2, door.y_m - size[1] / 2, 0.0))
        for space in spaces:
            self.f.create_entity(
                "IfcRelSpaceBoundary", GlobalId=ifcopenshell.guid.new(), Name="1stLevel", RelatingSpace=space,
                RelatedBuildingElement=element, PhysicalOrVirtualBoundary="PHYSICAL",
                InternalOrExternalBoundary="INTERNAL" if len(spaces) > 1 else "EXTERNAL")


def write_rooms(path: str | Path, rooms: list[Room], doors: list[Door], storey_height_m: float = 3.0,
                wall_m: float = 0.2) -> Path:
    """Write ``rooms`` and ``doors`` as an IFC4 building at ``path``; returns the path."""
    for door in doors:
        if door.along not in ("x", "y"):
            raise ValueError(f"door {door.name}: along must be 'x' or 'y', not {door.along!r}")
    writer = _Writer(storey_height_m)
    spaces = [(room, writer.room(room)) for room in rooms]
    for door in doors:
        bounded = [space for room, space in spaces
                   if room.storey == door.storey and room.holds_on_edge(door.x_m, door.y_m)]
        if not bounded:
            raise ValueError(f"door {door.name} at ({door.x_m}, {door.y_m}) lies on no room's edge")
        writer.door(door, wall_m, bounded)
    path = Path(path)
    writer.f.write(str(path))
    return path


def room_with_exits(path: str | Path, width_m: float, depth_m: float,
                    exits: list[tuple[str, float, float, float, str]]) -> Path:
    """One room ``Room`` of ``width × depth`` at the origin with exit doors ``(name, x, y, width, along)``."""
    return write_rooms(path, [Room("Room", 0.0, 0.0, width_m, depth_m)], [Door(*e) for e in exits])


def corridor(path: str | Path, length_m: float = 40.0, width_m: float = 2.0) -> Path:
    """RiMEA test 1: a corridor along x with an exit door of its full width across its east end."""
    return write_rooms(path, [Room("Corridor", 0.0, 0.0, length_m, width_m)],
                       [Door("Exit", length_m, width_m / 2, width_m, "y")])


def graph_of(path: Path) -> EvacuationGraph:
    """The evacuation graph of an IFC file."""
    return build_graph(import_ifc(path))


def sample_graph(name: str) -> EvacuationGraph:
    """The graph of a shared sample file, skipped when the data folder is absent."""
    if not IFC_DIR.is_dir():
        pytest.skip(f"sample data folder {IFC_DIR} is absent")
    return graph_of(IFC_DIR / name)
