"""Plan outlines of park nodes from their render-batch triangles (spaces, doors, stairs)."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import shapely

from twin.park import Park


def floor_print(triangles_m: np.ndarray) -> shapely.Geometry:
    """A plan outline from ``(m, 3, 3)`` triangles: the union of the downward-facing ones, else the hull."""
    tri = np.asarray(triangles_m, float).reshape(-1, 3, 3)
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    down = normals[:, 2] < -1e-9 * np.abs(normals).sum(axis=1).clip(1e-12)
    polygons = shapely.polygons(tri[down][:, :, :2]) if down.any() else []
    if len(polygons):
        outline = shapely.union_all(shapely.make_valid(polygons))
        if not outline.is_empty and outline.area > 0:
            return outline
    return shapely.MultiPoint(tri.reshape(-1, 3)[:, :2]).convex_hull


def node_triangles(park: Park, categories: Iterable[str]) -> dict[str, np.ndarray]:
    """``{node id: (m, 3, 3) triangles in the park frame}`` for the nodes of some batch categories."""
    wanted = set(categories)
    out: dict[str, list[np.ndarray]] = {}
    for batch in park.batches:
        if batch.category not in wanted or not batch.n_triangles:
            continue
        tri = batch.points_m[batch.triangles.astype(np.int64)].astype(float)
        order = np.argsort(batch.cell_node, kind="stable")
        cells = batch.cell_node[order]
        starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
        for start, stop in zip(starts, np.r_[starts[1:], len(cells)]):
            out.setdefault(batch.node_ids[cells[start]], []).append(tri[order[start:stop]])
    return {node_id: np.concatenate(parts) for node_id, parts in out.items()}
