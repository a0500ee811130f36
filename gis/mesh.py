"""Triangle soups for whole layers at once: ``(triangles (m, 3, 3) float64, owner (m,) int)``,
where ``owner`` is the feature's row. Everything here is vectorised over features."""
from __future__ import annotations

import numpy as np
import shapely
import trimesh

from twin.batches import RenderBatch

Soup = tuple[np.ndarray, np.ndarray]


def empty() -> Soup:
    return np.zeros((0, 3, 3)), np.zeros(0, dtype=np.int64)


def concat(*soups: Soup) -> Soup:
    soups = (empty(), *soups)
    return np.concatenate([s[0] for s in soups]), np.concatenate([s[1] for s in soups])


def triangulate(polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plan triangles ``(m, 3, 2)``, anticlockwise, covering (multi)polygons with their holes."""
    triangles, owner = shapely.get_parts(shapely.constrained_delaunay_triangles(polygons), return_index=True)
    xy = shapely.get_coordinates(shapely.get_exterior_ring(triangles)).reshape(-1, 4, 2)[:, :3]
    clockwise = _cross2(xy[:, 1] - xy[:, 0], xy[:, 2] - xy[:, 0]) < 0
    xy[clockwise] = xy[clockwise][:, ::-1]
    return xy, owner


def flat(polygons: np.ndarray, z_m: np.ndarray) -> Soup:
    """Upward-facing triangles of (multi)polygons at a height per feature."""
    xy, owner = triangulate(polygons)
    return _lift(xy, np.asarray(z_m, float)[owner]), owner


def walls(polygons: np.ndarray, base_m: np.ndarray, top_m: np.ndarray) -> Soup:
    """Vertical quads along every ring (outer and holes) from ``base_m`` to ``top_m``, facing out."""
    parts, part_owner = shapely.get_parts(shapely.orient_polygons(polygons), return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    edge = np.flatnonzero(ring[:-1] == ring[1:])
    owner = part_owner[ring_part[ring[edge]]]
    a, b = xy[edge], xy[edge + 1]
    z0, z1 = np.asarray(base_m, float)[owner], np.asarray(top_m, float)[owner]
    a0, b0 = np.column_stack([a, z0]), np.column_stack([b, z0])
    a1, b1 = np.column_stack([a, z1]), np.column_stack([b, z1])
    triangles = np.concatenate([np.stack([a0, b0, b1], 1), np.stack([a0, b1, a1], 1)])
    return triangles, np.concatenate([owner, owner])


def solid(polygons: np.ndarray, base_m: np.ndarray, top_m: np.ndarray) -> Soup:
    """Closed prisms: floor (facing down), roof and walls."""
    xy, owner = triangulate(polygons)
    floor = _lift(xy[:, ::-1], np.asarray(base_m, float)[owner])
    roof = _lift(xy, np.asarray(top_m, float)[owner])
    return concat((floor, owner), (roof, owner), walls(polygons, base_m, top_m))


def markers(centres_m: np.ndarray, template: trimesh.Trimesh) -> Soup:
    """One copy of a small template mesh (centred on its origin) at each centre ``(n, 3)``."""
    shape = template.triangles  # (k, 3, 3)
    triangles = centres_m[:, None, None, :] + shape[None]
    return triangles.reshape(-1, 3, 3), np.repeat(np.arange(len(centres_m)), len(shape))


def tubes(starts_m: np.ndarray, ends_m: np.ndarray, radius_m: np.ndarray, sides: int = 6) -> Soup:
    """An open prism of ``sides`` faces around each segment ``start → end``, with a vertex at its
    top and bottom (so a level pipe spans its full diameter in height); owner = segment row."""
    axis = ends_m - starts_m
    axis /= np.linalg.norm(axis, axis=1, keepdims=True).clip(1e-12)
    u = np.cross(axis, [0.0, 0.0, 1.0])
    vertical = np.linalg.norm(u, axis=1) < 1e-9
    u[vertical] = [1.0, 0.0, 0.0]
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(axis, u)
    angle = np.linspace(0, 2 * np.pi, sides + 1) + np.pi / 2
    ring = (np.cos(angle)[None, :, None] * u[:, None] + np.sin(angle)[None, :, None] * v[:, None])
    ring *= np.asarray(radius_m, float)[:, None, None]
    s, e = starts_m[:, None] + ring, ends_m[:, None] + ring  # (n, sides + 1, 3)
    first = np.stack([s[:, :-1], s[:, 1:], e[:, 1:]], axis=2)
    second = np.stack([s[:, :-1], e[:, 1:], e[:, :-1]], axis=2)
    triangles = np.concatenate([first, second], axis=1).reshape(-1, 3, 3)
    return triangles, np.repeat(np.arange(len(starts_m)), 2 * sides)


def bounds(soup: Soup, n: int) -> np.ndarray:
    """Per-owner ``(xmin, ymin, zmin, xmax, ymax, zmax)`` ``(n, 6)``; NaN for owners without triangles."""
    triangles, owner = soup
    out = np.full((n, 6), np.nan)
    if len(owner):
        points = triangles.reshape(-1, 3)
        who = np.repeat(owner, 3)
        order = np.argsort(who, kind="stable")
        who, points = who[order], points[order]
        starts = np.flatnonzero(np.r_[True, who[1:] != who[:-1]])
        out[who[starts], :3] = np.minimum.reduceat(points, starts)
        out[who[starts], 3:] = np.maximum.reduceat(points, starts)
    return out


def to_batch(key: str, category: str, soup: Soup, node_ids: list[str]) -> RenderBatch:
    """A render batch from a soup in park coordinates (already relative to the park origin);
    ``node_ids[owner]`` names each triangle's node. Triangles are grouped by node."""
    triangles, owner = soup
    order = np.argsort(owner, kind="stable")
    used, cell_node = np.unique(owner[order], return_inverse=True)
    points = triangles[order].reshape(-1, 3).astype(np.float32)
    indices = np.arange(len(points), dtype=np.uint32).reshape(-1, 3)
    return RenderBatch(key, category, None, None, points, indices, cell_node.astype(np.int32),
                       [node_ids[i] for i in used])


def _lift(xy: np.ndarray, z_m: np.ndarray) -> np.ndarray:
    return np.concatenate([xy, np.broadcast_to(z_m[:, None, None], (*xy.shape[:2], 1))], axis=2)


def _cross2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
