"""Cameras: which ones see a spot, and the picture a camera would take (issue 5, items 3 and 4).

A camera is a ``dev:<code>`` device whose registry row (``node.properties["device"]``) has
``type = "camera"`` and aims it: ``heading_deg`` (compass: 0 = north = park +Y, clockwise),
``tilt_deg`` (up positive, so the demo's ``-20`` looks 20° down, as :mod:`twin.device_batches`
turns the glyph), ``hfov_deg`` (horizontal field of view) and ``range_m``. It sits at its node's
bounds centre. The vertical field of view follows from the picture's aspect (16:9 by default).

A camera sees a point when the point is within range, inside both fields of view, and no opaque
triangle (walls, slabs and roofs, doors, columns and beams, stairs, lifts, GIS building blocks;
not windows, spaces, devices or the ground) lies on the line between them, hits within
:data:`END_MARGIN_M` of either end aside (the wall a camera hangs on, the slab above a detector).

>>> [(s.camera_id, round(s.distance_m)) for s in cameras_seeing(park, (10.0, 4.0, 1.5))]  # doctest: +SKIP
[('dev:CAM-003', 18), ('dev:CAM-007', 41)]
>>> png = snapshot_png(park, "dev:CAM-003")                                            # doctest: +SKIP

Pictures are drawn in a worker process (:mod:`twin.picture_renderer`), never in the server's.
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyvista as pv
import vtk

from live.clock import Clock, SystemClock
from twin.batches import RenderBatch
from twin.park import Node, Park
from twin.picture_renderer import Picture, PictureRenderer, SceneMesh, Shot
from twin.web.view_state import drawn_at_size
from twin.web.viewport import category_style

#: Batch categories that block a line of sight.
OPAQUE = frozenset({"walls", "slabs", "doors", "structure", "stairs", "transport", "buildings"})
END_MARGIN_M = 0.3
ASPECT = 16 / 9  # width / height of a camera's picture
#: What a camera row lacks falls back to these.
DEFAULTS = {"heading_deg": 0.0, "tilt_deg": 0.0, "hfov_deg": 60.0, "range_m": 30.0}
NEAR_M = 0.6  # the near clipping plane: in front of the camera's own housing (0.47 m long)
FAR_M = 2000.0


def is_camera(node: Node) -> bool:
    return node.kind == "device" and node.properties.get("device", {}).get("type") == "camera"


def camera_nodes(park: Park) -> list[Node]:
    """The park's placed cameras, in park order."""
    return [n for n in park.of_kind("device") if n.bounds_m is not None and is_camera(n)]


def camera(park: Park, camera_id: str) -> Node:
    """The camera node ``camera_id``; KeyError naming it when there is none."""
    node = park.nodes.get(camera_id)
    if node is None or node.bounds_m is None or not is_camera(node):
        raise KeyError(f"no camera {camera_id!r} in park {park.name!r}")
    return node


@dataclass(frozen=True, eq=False)
class CameraPose:
    """Where a camera is and where it looks, in park-frame metres (unit ``direction``, ``right``, ``up``)."""

    camera_id: str
    eye_m: np.ndarray
    direction: np.ndarray
    right: np.ndarray
    up: np.ndarray
    hfov_deg: float
    vfov_deg: float
    range_m: float

    @classmethod
    def of(cls, node: Node, aspect: float = ASPECT) -> CameraPose:
        """The pose of a camera node, its vertical field of view for a picture ``aspect`` wide."""
        row = {**DEFAULTS, **node.properties.get("device", {})}
        heading, tilt = np.radians(float(row["heading_deg"])), np.radians(float(row["tilt_deg"]))
        direction = np.array([np.sin(heading) * np.cos(tilt), np.cos(heading) * np.cos(tilt), np.sin(tilt)])
        right = np.array([np.cos(heading), -np.sin(heading), 0.0])
        hfov = float(row["hfov_deg"])
        vfov = float(np.degrees(2 * np.arctan(np.tan(np.radians(hfov) / 2) / aspect)))
        return cls(node.id, node.centre_m, direction, right, np.cross(right, direction), hfov, vfov,
                   float(row["range_m"]))

    def in_view(self, point_m: Iterable[float]) -> bool:
        """Within range and inside both fields of view (ignoring what stands in between)."""
        v = np.asarray(list(point_m), float) - self.eye_m
        ahead = float(v @ self.direction)
        if ahead <= 0 or float(np.linalg.norm(v)) > self.range_m:
            return False
        across, above = float(v @ self.right), float(v @ self.up)
        return (abs(across) <= ahead * np.tan(np.radians(self.hfov_deg) / 2)
                and abs(above) <= ahead * np.tan(np.radians(self.vfov_deg) / 2))


class Occluders:
    """The opaque triangles of a park's batches, in a vtk static cell locator for line-of-sight tests.

    Built in milliseconds (about 7 ms for the demo's 72,000 triangles); a segment costs 2–20 µs.
    """

    def __init__(self, batches: Iterable[RenderBatch]):
        opaque = [b for b in batches if b.category in OPAQUE and b.n_triangles]
        self.n_triangles = sum(b.n_triangles for b in opaque)
        self._locator: Any = None
        self._lock = threading.Lock()  # vtk does not promise thread-safe line queries
        if opaque:
            offsets = np.cumsum([0] + [len(b.points_m) for b in opaque])
            mesh = pv.PolyData.from_regular_faces(
                np.concatenate([b.points_m for b in opaque]).astype(float),
                np.concatenate([b.triangles.astype(np.int64) + o for b, o in zip(opaque, offsets)]))
            self._locator = vtk.vtkStaticCellLocator()
            self._locator.SetDataSet(mesh)
            self._locator.BuildLocator()
            self._mesh = mesh  # the locator does not hold its data set alive

    def blocked(self, start_m: Iterable[float], end_m: Iterable[float], margin_m: float = END_MARGIN_M) -> bool:
        """Whether an opaque triangle crosses the segment, ``margin_m`` from either end aside."""
        start, end = np.asarray(list(start_m), float), np.asarray(list(end_m), float)
        length = float(np.linalg.norm(end - start))
        if self._locator is None or length <= 2 * margin_m:
            return False
        step = (end - start) * (margin_m / length)
        t, x, pcoords, sub_id = vtk.reference(0.0), [0.0] * 3, [0.0] * 3, vtk.reference(0)
        with self._lock:
            return bool(self._locator.IntersectWithLine(start + step, end - step, 1e-6, t, x, pcoords, sub_id))


_occluders: weakref.WeakKeyDictionary[Park, Occluders] = weakref.WeakKeyDictionary()


def occluders(park: Park) -> Occluders:
    """The park's occluders, built on first use and shared."""
    if park not in _occluders:
        _occluders[park] = Occluders(park.batches)
    return _occluders[park]


@dataclass(frozen=True)
class CameraSight:
    """A camera that sees the spot, and how far away it is."""

    camera_id: str
    distance_m: float


_poses: weakref.WeakKeyDictionary[Park, dict[str, CameraPose]] = weakref.WeakKeyDictionary()


def camera_poses(park: Park) -> dict[str, CameraPose]:
    """Every camera's pose (16:9), by node id, worked out on first use and shared."""
    if park not in _poses:
        _poses[park] = {node.id: CameraPose.of(node) for node in camera_nodes(park)}
    return _poses[park]


def cameras_seeing(park: Park, point_m: Iterable[float], cameras: Iterable[str] | None = None) -> list[CameraSight]:
    """The cameras (among ``cameras``, node ids; default: all) that see a park point, nearest first."""
    point = np.asarray(list(point_m), float)
    poses = camera_poses(park)
    chosen = poses.values() if cameras is None else [poses[camera(park, c).id] for c in cameras]
    blocking = occluders(park)
    sights = [CameraSight(pose.camera_id, float(np.linalg.norm(point - pose.eye_m))) for pose in chosen
              if pose.in_view(point) and not blocking.blocked(pose.eye_m, point)]
    return sorted(sights, key=lambda s: s.distance_m)


def cameras_seeing_node(park: Park, node_id: str) -> list[CameraSight]:
    """The cameras that see a node's bounds centre, nearest first (none for a node not placed)."""
    centre = park.get(node_id).centre_m
    return [] if centre is None else cameras_seeing(park, centre)


def seen_meshes(batches: Iterable[RenderBatch]) -> list[SceneMesh]:
    """The batches a camera sees, coloured as the viewer colours them: true-size pipes, never the
    exaggerated ones."""
    meshes = []
    for batch in batches:
        if batch.n_triangles and drawn_at_size(batch.category, exaggerated=False):
            rgb, opacity = category_style(batch.category)
            meshes.append(SceneMesh(batch.points_m, batch.triangles, tuple(v / 255 for v in rgb), opacity))
    return meshes


class Snapshots:
    """A park's camera pictures, drawn by a :class:`PictureRenderer` (a worker process of its own).

    Holds the park's drawn meshes and its cameras, not the park, so the park can go when nothing else
    keeps it. :meth:`submit` from any thread (the web handler awaits its future), :meth:`png` to wait.
    """

    def __init__(self, park: Park):
        self.park_name = park.name
        self.cameras = {node.id: node for node in camera_nodes(park)}
        warm = self.shot(next(iter(self.cameras))) if self.cameras else None
        self.renderer = PictureRenderer(seen_meshes(park.batches), warm_shot=warm)
        weakref.finalize(self, self.renderer.close)

    def shot(self, camera_id: str, width: int = 640, height: int = 360, clock: Clock | None = None) -> Shot:
        """What camera ``camera_id`` sees, as a :class:`Shot` captioned with its code and the time now;
        KeyError naming it when the park has no such camera."""
        node = self.cameras.get(camera_id)
        if node is None:
            raise KeyError(f"no camera {camera_id!r} in park {self.park_name!r}")
        pose = CameraPose.of(node, aspect=width / height)
        now = (clock or SystemClock()).now()
        return Shot(tuple(pose.eye_m), tuple(pose.eye_m + pose.direction * 10.0), tuple(pose.up), pose.vfov_deg,
                    (NEAR_M, FAR_M), width, height, f"{node.code or node.id}  {now:%Y-%m-%d %H:%M:%S} UTC")

    def warm(self) -> None:
        """Start the worker now: it builds its plotter and draws one picture (compiling the renderer's
        shaders) before the first alarm asks for one; a park without cameras starts none."""
        if self.cameras:
            self.renderer.start()

    def submit(self, camera_id: str, width: int = 640, height: int = 360,
               clock: Clock | None = None) -> Future[Picture]:
        """Draw what camera ``camera_id`` sees now (KeyError at once for no such camera)."""
        return self.renderer.submit(self.shot(camera_id, width, height, clock))

    def png(self, camera_id: str, width: int = 640, height: int = 360, clock: Clock | None = None) -> bytes:
        """:meth:`submit`, waiting for the PNG bytes."""
        return self.submit(camera_id, width, height, clock).result().png


_snapshots: weakref.WeakKeyDictionary[Park, Snapshots] = weakref.WeakKeyDictionary()
_snapshots_lock = threading.Lock()


def snapshots(park: Park) -> Snapshots:
    """The park's snapshot renderer, made on first use and shared by every request."""
    with _snapshots_lock:
        if park not in _snapshots:
            _snapshots[park] = Snapshots(park)
        return _snapshots[park]


def snapshot_png(park: Park, camera_id: str, width: int = 640, height: int = 360,
                 clock: Clock | None = None) -> bytes:
    """The picture camera ``camera_id`` would take of the twin (PNG, ``width`` × ``height``), its
    code and the time (``clock``, default the wall clock) burned in; KeyError for no such camera."""
    return snapshots(park).png(camera_id, width, height, clock)
