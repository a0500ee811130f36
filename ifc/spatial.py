"""The IFC spatial tree as park nodes: site › building › storey › space › element, plus links."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ifcopenshell
import ifcopenshell.util.element
import ifcopenshell.util.unit

from ifc.properties import IfcProperties
from twin.park import ROOT_ID, Node

#: IFC spatial classes → node kind. IFC 4.3 facilities (roads, bridges) count as buildings.
SPATIAL_KINDS = (
    ("IfcSite", "site"),
    ("IfcBuildingStorey", "storey"),
    ("IfcSpace", "space"),
    ("IfcBuilding", "building"),
    ("IfcFacilityPart", "storey"),
    ("IfcFacility", "building"),
    ("IfcSpatialZone", "space"),
    ("IfcExternalSpatialElement", "space"),
)


def counted_elements(model: ifcopenshell.file) -> list[ifcopenshell.entity_instance]:
    """IfcElement instances except IfcFeatureElement (openings, projections) and IfcVirtualElement."""
    return [e for e in model.by_type("IfcElement")
            if not e.is_a("IfcFeatureElement") and not e.is_a("IfcVirtualElement")]


def node_kind(entity: ifcopenshell.entity_instance) -> str:
    return next((kind for cls, kind in SPATIAL_KINDS if entity.is_a(cls)), "element")


def _safe(model: ifcopenshell.file, cls: str) -> list:
    try:
        return model.by_type(cls)
    except RuntimeError:  # class not in this schema (IfcFacility in IFC2X3…)
        return []


class SpatialTree:
    """Nodes for one IFC model. ``ids[step id]`` is the node id of an entity."""

    def __init__(self, model: ifcopenshell.file, path: Path, prefix: str = "ifc:"):
        self.model, self.path = model, path
        self.prefix = prefix
        self.unit_m = ifcopenshell.util.unit.calculate_unit_scale(model)
        self.entities = sorted({e.id(): e for cls, _ in SPATIAL_KINDS for e in _safe(model, cls)}.values(),
                               key=lambda e: e.id())
        self.elements = counted_elements(model)
        self.ids = self._assign_ids([*self.entities, *self.elements])
        self.parent: dict[int, int] = {}  # step id → step id of the tree parent
        self.container: dict[int, int] = {}  # element step id → spatial structure it is contained in
        self.bounded_spaces: dict[int, set[int]] = {}  # element → spaces it bounds
        self._read_relations()

    def _assign_ids(self, entities: list) -> dict[int, str]:
        ids: dict[int, str] = {}
        seen: set[str] = set()
        for entity in entities:
            node_id = f"{self.prefix}{entity.GlobalId}"
            if node_id in seen:  # a broken file repeating a GlobalId: keep both, the step id tells them apart
                node_id = f"{node_id}#{entity.id()}"
            seen.add(node_id)
            ids[entity.id()] = node_id
        return ids

    def _read_relations(self) -> None:
        for rel in self.model.by_type("IfcRelAggregates"):
            for child in rel.RelatedObjects:
                self.parent[child.id()] = rel.RelatingObject.id()
        for rel in _safe(self.model, "IfcRelNests"):
            for child in rel.RelatedObjects:  # e.g. IFC4.3 facility parts nested in a facility
                if child.id() in self.ids and child.id() not in self.parent:
                    self.parent[child.id()] = rel.RelatingObject.id()
        for rel in self.model.by_type("IfcRelContainedInSpatialStructure"):
            for element in rel.RelatedElements:
                self.container[element.id()] = rel.RelatingStructure.id()
        for rel in self.model.by_type("IfcRelSpaceBoundary"):
            space, element = rel.RelatingSpace, rel.RelatedBuildingElement
            if space is not None and element is not None and space.is_a("IfcSpace"):
                self.bounded_spaces.setdefault(element.id(), set()).add(space.id())

    def tree_parent(self, step: int) -> int | None:
        """Aggregation parent, else containing structure, else the one space it bounds."""
        parent = self.parent.get(step)
        if parent in self.ids:
            return parent
        container = self.container.get(step)
        spaces = self.bounded_spaces.get(step, ())
        if len(spaces) == 1 and (container is None or self.model.by_id(container).is_a("IfcBuildingStorey")):
            return next(iter(spaces))
        return container if container in self.ids else None

    def nodes(self) -> Iterator[Node]:
        """Nodes in an order where every parent comes before its children."""
        entities = {e.id(): e for e in [*self.entities, *self.elements]}
        done: set[int] = set()

        def emit(step: int) -> Iterator[Node]:
            stack = []
            while step not in done:
                stack.append(step)
                done.add(step)
                parent = self.tree_parent(step)
                if parent is None:
                    break
                step = parent
            for s in reversed(stack):
                yield self._node(entities[s])

        for step in entities:
            yield from emit(step)

    def _node(self, entity: ifcopenshell.entity_instance) -> Node:
        parent = self.tree_parent(entity.id())
        kind = node_kind(entity)
        elevation = getattr(entity, "Elevation", None) if kind == "storey" else None
        type_obj = ifcopenshell.util.element.get_type(entity) if kind == "element" else None
        step = entity.id()
        return Node(
            id=self.ids[step],
            kind=kind,
            name=entity.Name or "",
            parent=self.ids[parent] if parent is not None else ROOT_ID,
            ifc_class=entity.is_a(),
            long_name=getattr(entity, "LongName", None) or "",
            code=getattr(entity, "Tag", None) or "",
            type_name=" ".join(filter(None, (getattr(entity, "ObjectType", None),
                                             type_obj.Name if type_obj else None))),
            elevation_m=elevation * self.unit_m if elevation is not None else None,
            bounds_spaces=sorted(self.ids[s] for s in self.bounded_spaces.get(step, ()) if s in self.ids),
            properties_loader=IfcProperties(self.path, step),
        )

    def structure_of(self, step: int, kind: str) -> int | None:
        """The nearest enclosing spatial entity of a kind (storey, building…) of an entity."""
        seen: set[int] = set()
        current: int | None = step
        while current is not None and current not in seen:
            seen.add(current)
            current = self.parent.get(current, self.container.get(current))
            if current is not None and node_kind(self.model.by_id(current)) == kind:
                return current
        return None
