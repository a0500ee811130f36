"""A scene's pipe networks, one per utility, from its ``pipes`` and ``network_nodes`` layers.

Ids are the scene's (``gis:<layer key>:<id>``). A pipe's ends are the network nodes its
``start_node``/``end_node`` fields name (by the nodes layer's id field), else the network node
within ``tolerance_m`` of its end vertex, else an implicit junction shared by every pipe end within
``tolerance_m`` (id ``<pipe id>:start`` or ``:end`` of the first such pipe). A valve node closes
every pipe that meets it; ``source`` and ``outfall`` nodes supply and drain.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from gis.layers import LayerSpec, read_layer, to_park
from gis.pipes import flow_signs, given_flow
from twin.networks.model import PipeNetwork
from twin.scene import Scene

SNAP_TOLERANCE_M = 0.5


@dataclass
class SceneNetworks:
    """The networks by utility, and what was noticed while joining pipes to nodes."""

    networks: dict[str, PipeNetwork]
    notes: list[str] = field(default_factory=list)

    def pipe_to_isolate(self, element_id: str) -> tuple[PipeNetwork, str] | None:
        """The pressurised network and pipe a burst at ``element_id`` concerns: the pipe itself,
        or for a network node the first pipe that meets it; ``None`` when no pressurised network has it."""
        for net in self.networks.values():
            if not net.pressurised:
                continue
            if element_id in net.links.index:
                return net, element_id
            if element_id in net.nodes.index:
                at = net.nodes.index.get_loc(element_id)
                meets = np.flatnonzero((net.ends == at).any(axis=1))
                if len(meets):
                    return net, str(net.links.index[meets[0]])
        return None


def _read(scene: Scene, spec: LayerSpec) -> gpd.GeoDataFrame:
    gdf, _ = read_layer(spec)
    return to_park(gdf, scene.crs, scene.origin_m)


def _text(gdf: pd.DataFrame, column: str) -> pd.Series:
    if column not in gdf:
        return pd.Series([None] * len(gdf), index=gdf.index, dtype=object)
    values = gdf[column].astype(object).where(gdf[column].notna(), None)
    return values.map(lambda v: str(v).strip() if v is not None and str(v).strip() else None)


def _number(gdf: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(gdf[column], errors="coerce").to_numpy(float) if column in gdf else np.full(len(gdf), np.nan)


def _node_table(scene: Scene) -> pd.DataFrame:
    frames = []
    for spec in (s for s in scene.layers if s.role == "network_nodes"):
        gdf = _read(scene, spec)
        points = shapely.centroid(gdf.geometry.to_numpy())
        frames.append(pd.DataFrame({
            "id": [f"gis:{spec.key}:{i}" for i in gdf.index], "code": gdf.index.astype(str),
            "kind": _text(gdf, "node_type").str.lower().fillna("junction").to_numpy(),
            "utility": _text(gdf, "utility").str.lower().to_numpy(),
            "x_m": shapely.get_x(points), "y_m": shapely.get_y(points),
            "elevation_m": _number(gdf, "invert_m"), "building": _text(gdf, "building").to_numpy()}))
    columns = ["id", "code", "kind", "utility", "x_m", "y_m", "elevation_m", "building"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _pipe_table(scene: Scene) -> pd.DataFrame:
    frames = []
    for spec in (s for s in scene.layers if s.role == "pipes"):
        gdf = _read(scene, spec)
        lines = gdf.geometry.to_numpy()
        first = shapely.get_point(shapely.line_merge(lines), 0)
        last = shapely.get_point(shapely.line_merge(lines), -1)
        frames.append(pd.DataFrame({
            "id": [f"gis:{spec.key}:{i}" for i in gdf.index], "utility": _text(gdf, "utility").to_numpy(),
            "start_code": _text(gdf, "start_node").to_numpy(), "end_code": _text(gdf, "end_node").to_numpy(),
            "x0": shapely.get_x(first), "y0": shapely.get_y(first), "x1": shapely.get_x(last), "y1": shapely.get_y(last),
            "diameter_mm": _number(gdf, "diameter_mm"), "length_m": shapely.length(lines),
            "material": _text(gdf, "material").to_numpy(), "depth_m": _number(gdf, "depth_m"),
            "invert_start_m": _number(gdf, "invert_start_m"), "invert_end_m": _number(gdf, "invert_end_m"),
            "flow": given_flow(gdf, f"{spec.path} layer {spec.key}"), "building": _text(gdf, "building").to_numpy(), "geometry": lines,
            "layer": spec.key}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _clusters(xy: np.ndarray, tolerance_m: float) -> np.ndarray:
    """A cluster number per point: points within ``tolerance_m`` of each other, transitively."""
    pairs = cKDTree(xy).query_pairs(tolerance_m, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(xy), len(xy)))
    return connected_components(graph, directed=False)[1]


def _network(utility: str, pipes: pd.DataFrame, all_nodes: pd.DataFrame, tolerance_m: float,
             notes: list[str]) -> PipeNetwork:
    nodes = all_nodes[(all_nodes["utility"] == utility) | all_nodes["utility"].isna()]
    by_code = dict(zip(nodes["code"], nodes["id"]))
    tree = cKDTree(nodes[["x_m", "y_m"]].to_numpy()) if len(nodes) else None
    ends: dict[str, list] = {"start": [], "end": []}
    loose: list[tuple[int, str, float, float]] = []  # (pipe row, end, x, y) not joined to a node
    for row, pipe in enumerate(pipes.itertuples(index=False)):
        for end, code, x, y in (("start", pipe.start_code, pipe.x0, pipe.y0), ("end", pipe.end_code, pipe.x1, pipe.y1)):
            code = code if isinstance(code, str) else None  # an empty field reads as NaN
            node = by_code.get(code) if code else None
            if code and node is None:
                notes.append(f"{pipe.id}: {end}_node {code!r} is not a {utility} network node (joined by position)")
            if node is None and tree is not None:
                distance, nearest = tree.query([x, y], distance_upper_bound=tolerance_m)
                node = nodes["id"].iat[nearest] if np.isfinite(distance) else None
            if node is None:
                loose.append((row, end, x, y))
            ends[end].append(node)
    implicit = []
    if loose:
        cluster = _clusters(np.array([(x, y) for _, _, x, y in loose]), tolerance_m)
        first: dict[int, str] = {}
        for (row, end, x, y), c in zip(loose, cluster):
            name = first.setdefault(int(c), f"{pipes['id'].iat[row]}:{end}")
            ends[end][row] = name
            if name == f"{pipes['id'].iat[row]}:{end}":
                implicit.append({"id": name, "kind": "junction", "x_m": x, "y_m": y})
    used = set(ends["start"]) | set(ends["end"])
    node_table = pd.concat([nodes[nodes["utility"].notna() | nodes["id"].isin(used)], pd.DataFrame(implicit)],
                           ignore_index=True).set_index("id").drop(columns=["code", "utility"], errors="ignore")
    links = pipes.set_index("id").assign(start=ends["start"], end=ends["end"])
    links = _inverts_from_nodes(links, node_table)
    links["flow"] = flow_signs(links["flow"], [utility] * len(links), links["invert_start_m"], links["invert_end_m"])
    valves = _valve_rows(node_table, links, tolerance_m, notes)
    return PipeNetwork.build(utility, utility, node_table, links, valves, source=f"scene layers ({utility})")


def _inverts_from_nodes(links: pd.DataFrame, nodes: pd.DataFrame) -> pd.DataFrame:
    """Pipe inverts missing in the pipe layer, taken from its end nodes' ``invert_m``."""
    elevation = nodes["elevation_m"]
    links = links.copy()
    links["invert_start_m"] = links["invert_start_m"].fillna(links["start"].map(elevation))
    links["invert_end_m"] = links["invert_end_m"].fillna(links["end"].map(elevation))
    return links


def _valve_rows(nodes: pd.DataFrame, links: pd.DataFrame, tolerance_m: float, notes: list[str]) -> pd.DataFrame:
    """A row per pipe end at a valve node: the valve closes every pipe that meets it. A valve node
    that is no pipe's end but lies on a pipe (within ``tolerance_m``; GIS layers often draw valves
    on an unbroken line) closes that pipe next to its nearer end."""
    valves = set(nodes.index[nodes["kind"] == "valve"])
    rows = [(end, link, end) for link, start, stop in zip(links.index, links["start"], links["end"])
            for end in {start, stop} if end in valves]
    on_line = sorted(valves - {valve for valve, _, _ in rows})
    if on_line and len(links):
        points = shapely.points(nodes.loc[on_line, ["x_m", "y_m"]].to_numpy(float))
        lines = links["geometry"].to_numpy()
        (which, row), _ = shapely.STRtree(lines).query_nearest(points, max_distance=tolerance_m, return_distance=True,
                                                               all_matches=False)
        for k, r in zip(which, row):
            valve, link, line = on_line[k], links.index[r], lines[r]
            end = "start" if shapely.line_locate_point(line, points[k]) < shapely.length(line) / 2 else "end"
            rows.append((valve, link, links[end].iat[r]))
            notes.append(f"{link}: valve {valve} lies on the pipe, not at an end: it closes the pipe at its {end}")
    return pd.DataFrame(rows, columns=["valve_id", "link", "node"])


def scene_networks(scene: Scene, tolerance_m: float = SNAP_TOLERANCE_M) -> SceneNetworks:
    """Every utility's network of the scene (an empty dict when it has no pipe layers)."""
    pipes = _pipe_table(scene)
    if pipes.empty:
        return SceneNetworks({})
    nodes = _node_table(scene)
    notes: list[str] = []
    networks = {u: _network(u, pipes[pipes["utility"] == u].reset_index(drop=True), nodes, tolerance_m, notes)
                for u in sorted(pipes["utility"].dropna().unique())}
    return SceneNetworks(networks, notes)
