"""IFC file → park scene graph with render batches: the whole import in one call."""
from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import ifcopenshell
import numpy as np
import shapely

from ifc.geometry import Shape, shapes
from ifc.georef import Georeference, read_georeference
from ifc.placement import apply
from ifc.properties import remember
from ifc.reader import IfcReadError, open_ifc
from ifc.spatial import SpatialTree
from twin.batches import CATEGORY_CLASSES, MeshPart, merge
from twin.footprint import floor_print
from twin.park import ROOT_ID, Park

log = logging.getLogger(__name__)


def category_of(entity: ifcopenshell.entity_instance) -> str:
    """The render batch category of an IFC product (walls, doors, spaces, mep…)."""
    for category, classes in CATEGORY_CLASSES.items():
        if any(_is_a(entity, cls) for cls in classes):
            return category
    return "other"


def _is_a(entity: ifcopenshell.entity_instance, cls: str) -> bool:
    try:
        return entity.is_a(cls)
    except RuntimeError:  # class unknown to this schema
        return False


def import_ifc(path: str | os.PathLike, progress: Callable[[int], None] | None = None,
               prefix: str = "ifc:", park: Park | None = None,
               place: Callable[[Georeference], np.ndarray] | None = None) -> Park:
    """Read an IFC file into ``park``, placed by ``place(georeference)`` (a 4×4 matrix from model
    metres to the park frame); or, with neither, into a park of its own centred on the model.

    ``progress(percent)`` reports tessellation. Raises :class:`ifc.reader.IfcReadError` on bad input
    before anything is added to ``park``.
    """
    model = open_ifc(path)
    remember(path, model)
    georef = read_georeference(model)
    matrix = place(georef) if place is not None else None
    tree = SpatialTree(model, Path(path), prefix)
    if park is not None and (clash := next((i for i in tree.ids.values() if i in park), None)):
        raise IfcReadError(path, f"node id {clash} is already in the park (the same GlobalId in another "
                                 "source): give each such source its own 'key' in the scene file")
    meshes: dict[int, Shape] = {s.step_id: s for s in shapes(model, progress=progress)
                               if s.step_id in tree.ids and len(s.faces)}
    if park is None:
        project = next(iter(model.by_type("IfcProject")), None)
        park = Park(project and (project.LongName or project.Name) or Path(path).stem,
                    origin_m=_centre(meshes.values()))
        park.georeference = georef
    if matrix is None:
        matrix = np.eye(4)
        matrix[:3, 3] = -park.origin_m
    meshes = {step: Shape(step, apply(matrix, s.vertices_m), s.faces) for step, s in meshes.items()}
    for node in tree.nodes():
        if node.parent not in park:
            node.parent = ROOT_ID
        park.add(node)
    _set_bounds(park, tree, meshes)
    _link_structure(park, tree)
    _link_spaces_by_geometry(park, tree, meshes)
    park.batches.extend(_batches(park, tree, meshes))
    park.sources[prefix] = model
    park.placements[prefix] = matrix
    return park


def _set_bounds(park: Park, tree: SpatialTree, meshes: dict[int, Shape]) -> None:
    """Node bounds from its own mesh, spatial containers from everything below them."""
    for step, shape in meshes.items():
        v = shape.vertices_m
        park.nodes[tree.ids[step]].bounds_m = (*v.min(axis=0), *v.max(axis=0))
    for node in reversed(list(park.descendants(ROOT_ID))):  # children before parents
        if node.kind == "element" or node.bounds_m is not None:
            continue
        boxes = [park.nodes[c].bounds_m for c in node.children if park.nodes[c].bounds_m is not None]
        if boxes:
            b = np.array(boxes)
            node.bounds_m = (*b[:, :3].min(axis=0), *b[:, 3:].max(axis=0))


def _centre(shapes_: Iterable[Shape]) -> np.ndarray:
    """The plan centre of a model, rounded to the metre, at height 0: a park origin of its own."""
    boxes = np.array([(*s.vertices_m.min(axis=0), *s.vertices_m.max(axis=0)) for s in shapes_]).reshape(-1, 6)
    if not len(boxes):
        return np.zeros(3)
    return np.array([*np.round((boxes[:, :2].min(axis=0) + boxes[:, 3:5].max(axis=0)) / 2), 0.0])


def _link_structure(park: Park, tree: SpatialTree) -> None:
    """Link each element and space to its building, storey and space."""
    for step, node_id in tree.ids.items():
        node = park.nodes[node_id]
        if node.kind not in ("element", "space"):
            continue
        for ancestor in park.path(node_id):
            if ancestor.kind in ("building", "storey", "space"):
                node.links[ancestor.kind] = ancestor.id
        if node.kind == "element" and "storey" not in node.links:
            storey = tree.structure_of(step, "storey")
            if storey is not None:
                node.links["storey"] = tree.ids[storey]


def _link_spaces_by_geometry(park: Park, tree: SpatialTree, meshes: dict[int, Shape]) -> None:
    """Elements the file gives no space: the space whose plan and height hold their centre."""
    shaped = [(step, park.nodes[tree.ids[step]]) for step in meshes]
    spaces = [node for _, node in shaped if node.kind == "space"]
    loose = [node for _, node in shaped if node.kind == "element" and "space" not in node.links]
    if not spaces or not loose:
        return
    prints = [floor_print(meshes[step].vertices_m[meshes[step].faces]) for step, node in shaped if node.kind == "space"]
    centres = np.array([n.centre_m for n in loose])
    hit_point, hit_space = shapely.STRtree(prints).query(shapely.points(centres[:, :2]), predicate="within")
    best: dict[int, tuple[float, int]] = {}
    for p, s in zip(hit_point, hit_space):
        zmin, zmax = spaces[s].bounds_m[2], spaces[s].bounds_m[5]
        if zmin - 0.05 <= centres[p, 2] <= zmax and (p not in best or prints[s].area < best[p][0]):
            best[p] = (prints[s].area, s)
    for p, (_, s) in best.items():
        space, node = spaces[s], loose[p]
        node.links["space"] = space.id
        if "storey" in space.links:
            node.links.setdefault("storey", space.links["storey"])
        if park.nodes[node.parent].kind in ("storey", "park"):
            park.reparent(node.id, space.id)


def _batches(park: Park, tree: SpatialTree, meshes: dict[int, Shape]):
    """One render batch per building × storey × category."""
    groups: dict[tuple[str | None, str | None, str], list[MeshPart]] = defaultdict(list)
    for step, shape in sorted(meshes.items()):
        node = park.nodes[tree.ids[step]]
        entity = tree.model.by_id(step)
        category = "site" if node.kind == "site" else category_of(entity)
        building = node.links.get("building") or (node.id if node.kind == "building" else None)
        storey = node.links.get("storey") or (node.id if node.kind == "storey" else None)
        groups[(building, storey, category)].append(MeshPart(node.id, shape.vertices_m, shape.faces))
    for (building, storey, category), parts in groups.items():
        key = "/".join(filter(None, (building, storey, category)))
        yield merge(key, category, building, storey, parts, np.zeros(3))
