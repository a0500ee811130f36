"""Device glyphs (design decision 4): one render batch per device type, its catalogue model
(:mod:`models.catalogue`) instanced at every device of that type, each triangle naming its device.

A model's origin goes where its ``mount`` says (a smoke detector under its room's ceiling, a
manhole cover on the ground, a reader beside its door); a device with ``heading_deg`` (compass,
clockwise from north = +Y) and ``tilt_deg`` (up positive) is turned so the model's +X looks that
way. Devices that would share a point (a room's temperature and humidity sensors) stand
:data:`SPREAD_M` apart along +X, so each stays visible and pickable.

>>> batches = device_batches(park, ground)  # doctest: +SKIP
>>> batches[0].category, batches[0].key  # doctest: +SKIP
('devices:access_door', 'devices/access_door')
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gis.surfaces import SURFACE_Z_M
from models import procedural
from models.catalogue import MODELS_DIR, RGB, DeviceModel, Mount, device_rgb, model
from twin.batches import RenderBatch
from twin.ground import Ground
from twin.park import Node, Park

CATEGORY_PREFIX = "devices:"
SPREAD_M = 0.5
BESIDE_GAP_M = (0.15, 0.25)  # ``beside``: past the end of the host's long side, out of its plane
BAY_INSET_M = 0.4  # ``bay_end``: in from the end of the host's long side
POLE_MIN_M = 0.5  # a free-standing device lower than this above the ground needs no pole
#: ``ground``: on top of the paving, which GIS surfaces draw a few centimetres above the ground.
PAVING_Z_M = max(SURFACE_Z_M[role] for role in ("green", "water", "parking", "roads", "paths", "parking_spaces"))
_ON_FLOOR: tuple[Mount, ...] = ("floor", "beside", "bay_end")


def category_rgb(category: str) -> RGB | None:
    """The colour of a device batch's category (``devices:<type>``); None for other categories."""
    if not category.startswith(CATEGORY_PREFIX):
        return None
    return device_rgb(category.removeprefix(CATEGORY_PREFIX))


def _record(node: Node) -> dict[str, Any]:
    """The device's registry row (its ``device`` property set)."""
    return node.properties.get("device", {})


def _host_box(park: Park, node: Node) -> tuple[float, ...]:
    """The bounds of the device's host; NaN when it has no host or the host no geometry."""
    host = park.nodes.get(node.links.get("host", ""))
    return host.bounds_m if host is not None and host.bounds_m is not None else (np.nan,) * 6


@dataclass
class Mounted:
    """Where each device's model goes: its origin (park frame), the heading its mount gives it
    (degrees, NaN for none) and the height of the pole under it (0 for none)."""

    points_m: np.ndarray  # (n, 3)
    heading_deg: np.ndarray  # (n,)
    pole_m: np.ndarray  # (n,)


def mount_points(park: Park, devices: Sequence[Node], models: Sequence[DeviceModel], ground: Ground) -> Mounted:
    """Where each device's model goes, by its model's mount (see :mod:`models.catalogue`)."""
    centre = np.array([d.centre_m for d in devices], dtype=float).reshape(-1, 3)
    host = np.array([_host_box(park, d) for d in devices], dtype=float).reshape(-1, 6)
    hosted = ~np.isnan(host[:, 0])
    height_given = np.array(["height_m" in _record(d) for d in devices], dtype=bool)
    ground_z = ground.z_m(centre[:, :2]) - park.origin_m[2]
    mount = np.array([m.mount for m in models])
    points, heading = centre.copy(), np.full(len(devices), np.nan)

    ceiling = (mount == "ceiling") & hosted & ~height_given
    points[ceiling, 2] = host[ceiling, 5]
    on_floor = np.isin(mount, _ON_FLOOR)
    points[on_floor, 2] = np.where(hosted, host[:, 2], ground_z)[on_floor]
    points[mount == "ground", 2] = ground_z[mount == "ground"] + PAVING_Z_M

    mid, half = (host[:, :2] + host[:, 3:5]) / 2, (host[:, 3:5] - host[:, :2]) / 2
    along_x = half[:, 0] >= half[:, 1]  # the host's long side runs along X
    beside = (mount == "beside") & hosted
    gap = np.where(along_x[:, None], BESIDE_GAP_M, BESIDE_GAP_M[::-1])
    points[beside, :2] = (mid + half + gap)[beside]
    heading[beside] = np.where(along_x, 0.0, 90.0)[beside]  # facing out of the host's plane
    bay_end = (mount == "bay_end") & hosted
    end = mid + np.where(along_x[:, None], [1.0, 0.0], [0.0, 1.0]) * (half - BAY_INSET_M)
    points[bay_end, :2] = end[bay_end]
    heading[bay_end] = np.where(along_x, 270.0, 180.0)[bay_end]  # facing back along the bay

    pole = points[:, 2] - ground_z
    poled = np.array([m.on_pole for m in models], dtype=bool) & ~hosted & (pole >= POLE_MIN_M)
    return Mounted(points, heading, np.where(poled, pole, 0.0))


def spread(points_m: np.ndarray) -> np.ndarray:
    """Points that coincide (to the centimetre) moved apart in a row along +X, in input order."""
    _, group = np.unique(np.round(points_m, 2), axis=0, return_inverse=True)
    group = group.ravel()
    order = np.argsort(group, kind="stable")
    first = np.searchsorted(group[order], group[order])  # where each group starts in sorted order
    rank = np.empty(len(group), dtype=int)
    rank[order] = np.arange(len(group)) - first
    out = points_m.copy()
    out[:, 0] += rank * SPREAD_M
    return out


def rotations(heading_deg: np.ndarray, tilt_deg: np.ndarray) -> np.ndarray:
    """``(n, 3, 3)`` matrices turning a model's +X to a compass heading (NaN: +X stays east) and
    tilting it up by ``tilt_deg`` (NaN: level)."""
    yaw = np.radians(90.0 - np.nan_to_num(heading_deg, nan=90.0))
    pitch = np.radians(np.nan_to_num(tilt_deg, nan=0.0))
    zero, one = np.zeros_like(yaw), np.ones_like(yaw)
    turn = np.stack([np.stack([np.cos(yaw), -np.sin(yaw), zero], -1),
                     np.stack([np.sin(yaw), np.cos(yaw), zero], -1),
                     np.stack([zero, zero, one], -1)], -2)
    tilt = np.stack([np.stack([np.cos(pitch), zero, -np.sin(pitch)], -1),
                     np.stack([zero, one, zero], -1),
                     np.stack([np.sin(pitch), zero, np.cos(pitch)], -1)], -2)
    return turn @ tilt


def _copies(vertices_m: np.ndarray, faces: np.ndarray, linear: np.ndarray,
            offsets_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Copies of a mesh, copy ``i`` transformed by ``linear[i]`` (3 × 3) then moved by ``offsets_m[i]``."""
    vertices = np.einsum("nij,vj->nvi", linear, vertices_m) + offsets_m[:, None, :]
    faces = faces[None] + (np.arange(len(offsets_m)) * len(vertices_m))[:, None, None]
    return vertices.reshape(-1, 3), faces.reshape(-1, 3)


def instanced(device_model: DeviceModel, points_m: np.ndarray, rotation: np.ndarray, node_ids: list[str],
              pole_m: np.ndarray | None = None) -> RenderBatch:
    """One batch of a model placed at each point (park frame), turned by each rotation, standing
    on a pole ``pole_m`` high where that is above 0 (the pole's cells name the device too)."""
    vertices, faces = _copies(device_model.vertices_m, device_model.faces, rotation, points_m)
    cell_node = np.repeat(np.arange(len(points_m), dtype=np.int32), device_model.n_triangles)
    poled = np.flatnonzero(pole_m > 0) if pole_m is not None else np.zeros(0, dtype=int)
    if len(poled):
        post = procedural.pole()
        stretch = np.zeros((len(poled), 3, 3))
        stretch[:, 0, 0] = stretch[:, 1, 1] = 1.0
        stretch[:, 2, 2] = pole_m[poled]
        base = points_m[poled] - pole_m[poled, None] * [0.0, 0.0, 1.0]
        post_vertices, post_faces = _copies(post.vertices, post.faces, stretch, base)
        faces = np.concatenate([faces, post_faces + len(vertices)])
        vertices = np.concatenate([vertices, post_vertices])
        cell_node = np.concatenate([cell_node, np.repeat(poled.astype(np.int32), len(post.faces))])
    name = device_model.device_type
    return RenderBatch(f"devices/{name}", f"{CATEGORY_PREFIX}{name}", None, None, vertices.astype(np.float32),
                       faces.astype(np.uint32), cell_node, node_ids)


def device_batches(park: Park, ground: Ground | None = None, folder: Path | None = MODELS_DIR) -> list[RenderBatch]:
    """One batch per device type in the park, sorted by type (the ground defaults to flat at the
    park origin; ``folder`` holds model files that replace the built-in models)."""
    devices = park.of_kind("device")
    if not devices:
        return []
    types = np.array([str(_record(d).get("type", "")) for d in devices])
    models = {t: model(t, folder) for t in sorted(set(types))}
    mounted = mount_points(park, devices, [models[t] for t in types],
                           ground if ground is not None else Ground(park.origin_m[2]))
    heading = np.array([_record(d).get("heading_deg", np.nan) for d in devices], dtype=float)
    tilt = np.array([_record(d).get("tilt_deg", np.nan) for d in devices], dtype=float)
    rotation = rotations(np.where(np.isnan(heading), mounted.heading_deg, heading), tilt)
    points = spread(mounted.points_m)
    batches = []
    for name, device_model in models.items():
        index = np.flatnonzero(types == name)
        batches.append(instanced(device_model, points[index], rotation[index], [devices[i].id for i in index],
                                 mounted.pole_m[index]))
    return batches
