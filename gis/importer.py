"""A GIS layer into the park: one node per feature (``gis:<key>:<id>``) and its render batches."""
from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis import mesh
from gis.extrude import blocks
from gis.layers import LayerReport, LayerSpec, read_layer, to_park
from gis.pipes import flow_arrows, given_flow, node_markers, pipe_tubes
from gis.roles import ROLES, UTILITIES
from gis.surfaces import surfaces
from models.network import OWN_RGB, node_type_key
from twin.errors import InputError
from twin.ground import Ground, park_z
from twin.park import ROOT_ID, Node, Park, PropertySet


def add_layer(park: Park, spec: LayerSpec, ground_z_m: float | Ground = 0.0) -> LayerReport:
    """Read ``spec``, reproject it to ``park.crs`` and add its features as nodes under the park
    root, with one render batch for the layer (pipes and network nodes: per utility, see :func:`_batches`).

    ``ground_z_m`` is the ground elevation in the park CRS's vertical datum (like the scene's
    ``[ground] elevation_m``), or a :class:`~twin.ground.Ground` (a DEM); node bounds and batch points are relative to ``park.origin_m``.
    Raises :class:`InputError` before anything is added to the park.
    """
    gdf, report = read_park_layer(park, spec)
    return add_features(park, spec, gdf, report, ground_z_m)


def read_park_layer(park: Park, spec: LayerSpec) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Read ``spec`` into the park frame (park CRS, relative to the origin), checked, nothing added."""
    if not park.crs:
        raise InputError(f"{spec.path}: the park has no `crs` to bring layer {spec.key!r} into")
    gdf, report = read_layer(spec)
    gdf = to_park(gdf, park.crs, park.origin_m)
    where = f"{report.path} layer {report.layer}"
    _check_utility(gdf, spec.role, where)
    if spec.role == "pipes":
        given_flow(gdf, where)  # every flow_direction readable, or one line naming the pipe
    ids = [f"gis:{spec.key}:{i}" for i in gdf.index]
    if clash := next((i for i in ids if i in park), None):
        raise InputError(f"{where}: node id {clash} is already in the park (give the layer its own `key`)")
    return gdf, report


def add_features(park: Park, spec: LayerSpec, gdf: gpd.GeoDataFrame, report: LayerReport,
                 ground_z_m: float | Ground = 0.0) -> LayerReport:
    """Add the features of a layer read by :func:`read_park_layer` as nodes and render batches."""
    ids = [f"gis:{spec.key}:{i}" for i in gdf.index]
    ground_m = park_z(ground_z_m, float(park.origin_m[2]))  # a height, or a function of xy
    soup = _soup(gdf, spec.role, ground_m, float(park.origin_m[2]))
    _add_nodes(park, gdf, spec.role, ids, mesh.bounds(soup, len(gdf)))
    batches = list(_batches(gdf, spec, soup, ids, ground_m, float(park.origin_m[2])))
    park.batches.extend(batches)
    report.nodes, report.triangles = len(ids), sum(b.n_triangles for b in batches)
    return report


def _soup(gdf: gpd.GeoDataFrame, role: str, ground_m, origin_z_m: float) -> mesh.Soup:
    if role == "buildings":
        return blocks(gdf, ground_m)
    if role == "pipes":
        return pipe_tubes(gdf, ground_m, origin_z_m)
    if role == "network_nodes":
        return node_markers(gdf, ground_m, origin_z_m)
    return surfaces(gdf, role, ground_m)


def _check_utility(gdf: gpd.GeoDataFrame, role: str, where: str) -> None:
    """Pipes need a known ``utility``; network nodes may carry one."""
    if role not in ("pipes", "network_nodes"):
        return
    if "utility" not in gdf:
        if role == "pipes":
            raise InputError(f"{where}: pipes need field `utility` (a column, or a constant such as '=water')")
        return
    gdf["utility"] = gdf["utility"].astype("string").str.strip().str.lower().astype(object)
    unknown = sorted(set(gdf["utility"].dropna()) - set(UTILITIES))
    if unknown or (role == "pipes" and gdf["utility"].isna().any()):
        raise InputError(f"{where}: field `utility` must be one of {', '.join(UTILITIES)}"
                         + (f", not {', '.join(map(repr, unknown))}" if unknown else " for every pipe"))


def _add_nodes(park: Park, gdf: gpd.GeoDataFrame, role: str, ids: list[str], bounds_m: np.ndarray) -> None:
    kind = ROLES[role].kind
    records = gdf.drop(columns=gdf.geometry.name).to_dict("records")
    names = gdf["name"] if "name" in gdf else pd.Series([None] * len(gdf), index=gdf.index)
    types = next((gdf[c] for c in ("node_type", "utility") if c in gdf), pd.Series([None] * len(gdf)))
    for node_id, code, name, type_name, box, record in zip(ids, gdf.index, names, types, bounds_m, records):
        park.add(Node(node_id, kind, name if isinstance(name, str) and name else code, parent=ROOT_ID,
                      code=code, type_name=type_name if isinstance(type_name, str) else "",
                      bounds_m=None if np.isnan(box[0]) else tuple(map(float, box)),
                      properties_loader=PropertySet("attributes", {k: v for k, v in record.items() if not _missing(v)})))


def _batches(gdf: gpd.GeoDataFrame, spec: LayerSpec, soup: mesh.Soup, ids: list[str], ground_m, origin_z_m: float):
    """One batch for the layer (none when empty), but the pipe networks per utility (docs/scene-format.md):

    - pipes: ``pipes:<utility>`` (the tubes, key ``gis:<layer>:<utility>``), ``arrows:<utility>``
      (flow arrows, owned by their pipe), and ``pipes_x5:``, ``arrows_x5:<utility>`` (both exaggerated);
    - network nodes: ``network_nodes:<utility>`` (``unknown`` for nodes without one), and
      ``network_nodes:<utility>:<node_type>`` for node types of their own colour (hydrants).
    """
    if spec.role == "pipes":
        utility = gdf["utility"].to_numpy()
        for family, part in (("pipes", soup), ("arrows", flow_arrows(gdf, ground_m, origin_z_m)),
                             ("pipes_x5", pipe_tubes(gdf, ground_m, origin_z_m, exaggerated=True)),
                             ("arrows_x5", flow_arrows(gdf, ground_m, origin_z_m, exaggerated=True))):
            yield from _per_group(part, utility, spec, family, ids)
    elif spec.role == "network_nodes":
        utility = gdf["utility"] if "utility" in gdf else [None] * len(gdf)
        kind = gdf["node_type"] if "node_type" in gdf else [None] * len(gdf)
        group = [(u if isinstance(u, str) else "unknown") + (f":{k}" if k in OWN_RGB else "")
                 for u, k in zip(utility, map(node_type_key, kind))]
        yield from _per_group(soup, np.array(group, dtype=object), spec, "network_nodes", ids)
    elif len(soup[1]):
        yield mesh.to_batch(f"gis:{spec.key}", spec.role, soup, ids)


def _per_group(soup: mesh.Soup, group: np.ndarray, spec: LayerSpec, family: str, ids: list[str]):
    """A batch per value of the rows' ``group``: category ``<family>:<group>``, key
    ``gis:<layer>:<group>`` for the layer's own family, else ``gis:<layer>:<family>:<group>``."""
    triangles, owner = soup
    key = f"gis:{spec.key}" if family == spec.role else f"gis:{spec.key}:{family}"
    of_triangle = group[owner]
    for name in sorted(set(of_triangle)):
        mine = of_triangle == name
        yield mesh.to_batch(f"{key}:{name}", f"{family}:{name}", (triangles[mine], owner[mine]), ids)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))
