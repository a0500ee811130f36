"""Render batches (design decision 4): merged meshes with a per-cell node index.

One batch per building × storey × category. A batch travels to the browser once, as one
content-hashed binary blob (:meth:`RenderBatch.encode`), laid out as::

    b"TWB1" | uint32 header_len | header JSON (utf-8, space-padded to 4 bytes)
    | float32 points (n_points × 3, metres relative to the park origin)
    | uint32 triangles (n_triangles × 3, point indices)
    | int32 cell_node (n_triangles, index into header["node_ids"])

The header holds ``key, category, building, storey, n_points, n_triangles, node_ids``.
"""
from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

MAGIC = b"TWB1"

#: Batch categories and the IFC classes (and their subclasses) that fall in them, in match order.
CATEGORY_CLASSES: dict[str, tuple[str, ...]] = {
    "spaces": ("IfcSpace",),
    "doors": ("IfcDoor",),
    "windows": ("IfcWindow",),
    "walls": ("IfcWall", "IfcCurtainWall"),
    "slabs": ("IfcSlab", "IfcRoof", "IfcCovering"),
    "stairs": ("IfcStair", "IfcStairFlight", "IfcRamp", "IfcRampFlight", "IfcRailing"),
    "transport": ("IfcTransportElement",),
    "structure": ("IfcBeam", "IfcColumn", "IfcMember", "IfcPlate", "IfcFooting", "IfcPile"),
    "mep": ("IfcDistributionElement", "IfcFlowSegment", "IfcFlowFitting", "IfcFlowTerminal"),
    "furniture": ("IfcFurnishingElement", "IfcFurniture"),
}
CATEGORIES: tuple[str, ...] = ("site", *CATEGORY_CLASSES, "other")


@dataclass(eq=False)
class RenderBatch:
    """One merged mesh. ``cell_node[i]`` names the node (``node_ids[...]``) triangle ``i`` belongs to."""

    key: str
    category: str
    building: str | None
    storey: str | None
    points_m: np.ndarray  # (n, 3) float32, relative to the park origin
    triangles: np.ndarray  # (m, 3) uint32
    cell_node: np.ndarray  # (m,) int32
    node_ids: list[str] = field(default_factory=list)

    @property
    def n_triangles(self) -> int:
        return int(len(self.triangles))

    @cached_property
    def payload(self) -> bytes:
        """The binary blob sent to the browser (see module docstring)."""
        header = json.dumps(
            {"key": self.key, "category": self.category, "building": self.building,
             "storey": self.storey, "n_points": int(len(self.points_m)),
             "n_triangles": self.n_triangles, "node_ids": self.node_ids},
            ensure_ascii=False, separators=(",", ":"),
        ).encode()
        header += b" " * (-len(header) % 4)
        return b"".join((
            MAGIC, struct.pack("<I", len(header)), header,
            np.ascontiguousarray(self.points_m, dtype="<f4").tobytes(),
            np.ascontiguousarray(self.triangles, dtype="<u4").tobytes(),
            np.ascontiguousarray(self.cell_node, dtype="<i4").tobytes(),
        ))

    @cached_property
    def digest(self) -> str:
        """Content hash of :attr:`payload`; the geometry URL carries it so browsers cache forever."""
        return hashlib.sha256(self.payload).hexdigest()[:24]


def decode(payload: bytes) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :attr:`RenderBatch.payload`: ``(header, points, triangles, cell_node)``."""
    if payload[:4] != MAGIC:
        raise ValueError("not a twin render batch (bad magic)")
    (n_header,) = struct.unpack("<I", payload[4:8])
    header = json.loads(payload[8:8 + n_header])
    offset = 8 + n_header
    n_p, n_t = header["n_points"], header["n_triangles"]
    points = np.frombuffer(payload, "<f4", n_p * 3, offset).reshape(-1, 3)
    offset += n_p * 12
    triangles = np.frombuffer(payload, "<u4", n_t * 3, offset).reshape(-1, 3)
    offset += n_t * 12
    cell_node = np.frombuffer(payload, "<i4", n_t, offset)
    return header, points, triangles, cell_node


@dataclass
class MeshPart:
    """One node's triangles before merging, in park coordinates (float64)."""

    node_id: str
    vertices_m: np.ndarray  # (n, 3) float64
    faces: np.ndarray  # (m, 3) int


def merge(key: str, category: str, building: str | None, storey: str | None,
          parts: list[MeshPart], origin_m: np.ndarray) -> RenderBatch:
    """Merge node meshes into one batch, with points relative to ``origin_m``."""
    offsets = np.cumsum([0] + [len(p.vertices_m) for p in parts])
    points = np.concatenate([p.vertices_m for p in parts]) - origin_m
    triangles = np.concatenate([p.faces + o for p, o in zip(parts, offsets)])
    cell_node = np.repeat(np.arange(len(parts), dtype=np.int32), [len(p.faces) for p in parts])
    return RenderBatch(key, category, building, storey, points.astype(np.float32),
                       triangles.astype(np.uint32), cell_node, [p.node_id for p in parts])
