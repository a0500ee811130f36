"""The park scene graph: a tree of nodes plus links, with queries (design decision 3).

Park › site › building › storey › space › element is the tree; links (``storey``, ``space``,
``host``…) join nodes across it. Ids are stable and namespaced (decision 2): ``ifc:<GlobalId>``,
``gis:<layer>:<id>``, ``dev:<code>``.

>>> park = Park("demo")
>>> park.add(Node("ifc:B1", "building", "办公楼 A", parent="park"))
>>> [n.name for n in park.find("办公")]
['办公楼 A']
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from scipy.spatial import cKDTree

from twin.batches import RenderBatch
from twin.crs import transformer

#: The fixed set of node kinds (lower case): the tree, devices, networks, and the GIS kinds.
KINDS = ("park", "site", "building", "storey", "space", "element", "device", "pipe", "network_node",
         "road", "path", "parking", "parking_space", "green", "water", "boundary", "gate", "assembly_point")
ROOT_ID = "park"


def fold(text: str) -> str:
    """Normalise text for search: NFKC (full-width → ASCII) and case-folded; Chinese unchanged."""
    return unicodedata.normalize("NFKC", text).casefold()


class PropertySet:
    """A node's properties as one named set, ``{name: values}`` (a picklable properties loader)."""

    def __init__(self, name: str, values: dict[str, Any]):
        self.name, self.values = name, values

    def __call__(self) -> dict[str, dict[str, Any]]:
        return {self.name: self.values}


@dataclass(eq=False)
class Node:
    """One thing in the park. Coordinates are metres in the park frame (relative to its origin)."""

    id: str
    kind: str
    name: str = ""
    parent: str | None = None
    ifc_class: str | None = None
    long_name: str = ""
    code: str = ""
    type_name: str = ""
    elevation_m: float | None = None  # storeys: IfcBuildingStorey.Elevation, in metres
    bounds_m: tuple[float, float, float, float, float, float] | None = None  # xmin,ymin,zmin,xmax,ymax,zmax
    links: dict[str, str] = field(default_factory=dict)  # role -> node id (storey, space, host…)
    bounds_spaces: list[str] = field(default_factory=list)  # spaces this element bounds (IfcRelSpaceBoundary)
    children: list[str] = field(default_factory=list)
    properties_loader: Callable[[], dict[str, dict[str, Any]]] | None = field(default=None, repr=False)

    @property
    def centre_m(self) -> np.ndarray | None:
        if self.bounds_m is None:
            return None
        b = self.bounds_m
        return np.array([(b[0] + b[3]) / 2, (b[1] + b[4]) / 2, (b[2] + b[5]) / 2])

    @cached_property
    def properties(self) -> dict[str, dict[str, Any]]:
        """Property sets and quantity sets, ``{set name: {property: value}}``, read on first use."""
        return self.properties_loader() if self.properties_loader else {}

    def search_text(self) -> str:
        return fold(" ".join(filter(None, (self.name, self.long_name, self.code, self.type_name,
                                           self.ifc_class or ""))))


class Park:
    """The scene graph of one park: nodes by id, the tree, links, render batches and queries."""

    def __init__(self, name: str, origin_m: Iterable[float] = (0.0, 0.0, 0.0), crs: str | None = None):
        self.name = name
        self.origin_m = np.asarray(list(origin_m), dtype=float)
        self.crs = crs
        self.nodes: dict[str, Node] = {}
        self.batches: list[RenderBatch] = []
        self.sources: dict[str, Any] = {}  # source key → opened model (an ifcopenshell file…)
        self.placements: dict[str, np.ndarray] = {}  # source key → 4×4 model-to-park-frame matrix
        self.georeference: Any = None  # has ``to_lonlat(points_m)``; set by the importers
        self.tours: list[Any] = []  # twin.tours.Tour, from the scene file
        self.teams: tuple[Any, ...] = ()  # twin.teams.TeamSpec, from the scene file
        self.walkways: list[shapely.Geometry] = []  # roads and paths in the park frame (ways to assembly points)
        self._indexes: dict[str | None, SpatialIndex] = {}  # by node kind; cleared when nodes change
        self.add(Node(ROOT_ID, "park", name))

    # --- building the graph -------------------------------------------------------------------
    def add(self, node: Node) -> Node:
        """Add a node under its parent (which must already be in the park)."""
        if node.id in self.nodes:
            raise ValueError(f"duplicate node id {node.id!r}")
        self.nodes[node.id] = node
        if node.parent is not None:
            self.nodes[node.parent].children.append(node.id)
        self._indexes.clear()
        return node

    def reparent(self, node_id: str, parent_id: str) -> None:
        node = self.nodes[node_id]
        if node.parent is not None:
            self.nodes[node.parent].children.remove(node_id)
        node.parent = parent_id
        self.nodes[parent_id].children.append(node_id)

    # --- by id, tree --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __contains__(self, node_id: str) -> bool:
        return node_id in self.nodes

    def get(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise KeyError(f"no node {node_id!r} in park {self.name!r}") from None

    def path(self, node_id: str) -> list[Node]:
        """Breadcrumbs: the nodes from the root down to the node's parent."""
        out: list[Node] = []
        parent = self.get(node_id).parent
        while parent is not None:
            node = self.nodes[parent]
            out.append(node)
            parent = node.parent
        return out[::-1]

    def descendants(self, node_id: str) -> Iterator[Node]:
        """Everything below a node (a building, storey or space), depth first."""
        stack = list(reversed(self.get(node_id).children))
        while stack:
            node = self.nodes[stack.pop()]
            yield node
            stack.extend(reversed(node.children))

    def ancestor(self, node_id: str, kind: str) -> Node | None:
        """The nearest ancestor of a kind (the building of a space, the storey of a door…)."""
        return next((n for n in reversed(self.path(node_id)) if n.kind == kind), None)

    def within(self, node_id: str, kind: str) -> Node | None:
        """The node itself when it is of ``kind``, else its nearest ancestor of that kind (the building a
        node is or lies in)."""
        node = self.get(node_id)
        return node if node.kind == kind else self.ancestor(node_id, kind)

    def to_lonlat(self, points_m: Iterable[Iterable[float]]) -> np.ndarray | None:
        """WGS84 ``(lon, lat, height)`` of park-frame points, or None for a park placed nowhere."""
        points = np.asarray(points_m, float).reshape(-1, 3) + self.origin_m
        if self.crs:
            lon, lat = transformer(self.crs, "EPSG:4326").transform(points[:, 0], points[:, 1])
            return np.column_stack((lon, lat, points[:, 2]))
        return self.georeference.to_lonlat(points) if self.georeference is not None else None

    def lonlat(self, node_id: str) -> tuple[float, float, float] | None:
        """WGS84 ``(lon, lat, height)`` of a node's centre."""
        centre = self.get(node_id).centre_m
        found = self.to_lonlat(centre) if centre is not None else None
        return tuple(float(v) for v in found[0]) if found is not None else None

    def bounds_m(self) -> tuple[float, float, float, float, float, float] | None:
        """The park-frame box around every placed node."""
        boxes = np.array([n.bounds_m for n in self.nodes.values() if n.bounds_m is not None]).reshape(-1, 6)
        if not len(boxes):
            return None
        return (*boxes[:, :3].min(axis=0), *boxes[:, 3:].max(axis=0))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for node in self.nodes.values():
            out[node.kind] = out.get(node.kind, 0) + 1
        return out

    # --- attribute queries ----------------------------------------------------------------------
    def find(self, text: str) -> list[Node]:
        """Case-insensitive substring search over name, long name, code and type (Chinese too)."""
        needle = fold(text.strip())
        return [n for n in self.nodes.values() if n.kind != "park" and needle in n.search_text()]

    def boundaries_of(self, space_id: str, ifc_class: str | None = None) -> list[Node]:
        """The elements that bound a space (its doors with ``ifc_class="IfcDoor"``, its walls…)."""
        wanted = ifc_class.lower() if ifc_class else None
        return [n for n in self.nodes.values() if space_id in n.bounds_spaces
                and (wanted is None or (n.ifc_class or "").lower() == wanted)]

    def of_kind(self, kind: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == kind]

    def of_class(self, ifc_class: str) -> list[Node]:
        """Nodes of an IFC class, exactly (``IfcDoor``), case-insensitive."""
        wanted = ifc_class.lower()
        return [n for n in self.nodes.values() if (n.ifc_class or "").lower() == wanted]

    def with_property(self, name: str, value: Any = None, pset: str | None = None,
                      among: Iterable[Node] | None = None) -> list[Node]:
        """Nodes having property ``name`` (in ``pset`` if given), equal to ``value`` if given.

        Property sets are read on demand, so narrow ``among`` first on a large park.
        """
        def matches(node: Node) -> bool:
            for set_name, props in node.properties.items():
                if (pset is None or set_name == pset) and name in props:
                    if value is None or props[name] == value or str(props[name]) == str(value):
                        return True
            return False
        return [n for n in (self.nodes.values() if among is None else among) if matches(n)]

    # --- spatial queries ------------------------------------------------------------------------
    def _index(self, kind: str | None) -> SpatialIndex:
        """The spatial index over the centres of placed nodes (of one kind), built on first use."""
        if kind not in self._indexes:
            placed = [n for n in self.nodes.values()
                      if n.bounds_m is not None and n.kind != "park" and (kind is None or n.kind == kind)]
            self._indexes[kind] = SpatialIndex(np.array([n.centre_m for n in placed]).reshape(-1, 3),
                                               [n.id for n in placed])
        return self._indexes[kind]

    def nearest(self, point_m: Iterable[float], n: int = 1, kind: str | None = None) -> list[Node]:
        """The ``n`` nodes (of ``kind`` if given) whose centres lie nearest to a park point, nearest first."""
        index = self._index(kind)
        if not index.ids:
            return []
        _, hits = index.space.query(np.asarray(list(point_m), float), k=min(n, len(index.ids)))
        return [self.nodes[index.ids[i]] for i in np.atleast_1d(hits)]

    def within_radius(self, point_m: Iterable[float], radius_m: float, kind: str | None = None) -> list[Node]:
        """Nodes (of ``kind`` if given) whose centres lie within ``radius_m`` of a park point, nearest first."""
        index = self._index(kind)
        centre = np.asarray(list(point_m), float)
        hits = index.space.query_ball_point(centre, radius_m, return_sorted=True) if index.ids else []
        return sorted((self.nodes[index.ids[i]] for i in hits),
                      key=lambda n: float(np.linalg.norm(n.centre_m - centre)))

    def within_polygon(self, polygon: shapely.Polygon, kind: str | None = None) -> list[Node]:
        """Nodes (of ``kind`` if given) whose centres fall inside a 2D park polygon, at any height."""
        index = self._index(kind)
        if not index.ids:
            return []
        x0, y0, x1, y1 = polygon.bounds
        near = np.asarray(index.plan.query_ball_point(((x0 + x1) / 2, (y0 + y1) / 2),
                                                      float(np.hypot(x1 - x0, y1 - y0)) / 2 + 1e-9), dtype=int)
        xy = index.plan.data[near]
        return [self.nodes[index.ids[i]] for i in near[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])]]


class SpatialIndex:
    """KD-trees over node centres: 3D (``space``) for nearest and radius, 2D (``plan``) for polygons."""

    def __init__(self, centres_m: np.ndarray, ids: list[str]):
        self.ids = ids
        self.space = cKDTree(centres_m)
        self.plan = cKDTree(centres_m[:, :2])
