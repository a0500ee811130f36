"""The device model catalogue: one mesh, colour and mount per device type.

A type's mesh comes from ``<folder>/<type>.glb|.gltf|.obj|.stl`` when that file exists (the folder
defaults to this package's own), else from :mod:`models.procedural`; unknown types get a generic
ball. ``mount`` says where a device's model origin goes (see :mod:`twin.device_batches`):

- ``point``: the device's own position;
- ``ceiling``: the top of its host (a room's ceiling) unless the registry gives ``height_m``;
- ``floor``: its host's floor (the model carries its own mounting height), the ground if unhosted;
- ``beside``: on the floor just past the end of its host's long side and out of its plane
  (a reader beside a door), facing across it;
- ``bay_end``: on the floor at the far end of its host's long side (a charger at the head of its
  bay), facing back along it;
- ``ground``: the ground under the device.

A type ``on_pole`` stands on a post from the ground up to its origin when it has no host and is
placed above the ground (an outdoor camera at 6 m).

>>> model("camera").n_triangles <= 200
True
>>> device_rgb("no_such_type") == GENERIC.rgb
True
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import trimesh

from models import procedural
from models.files import MODELS_DIR, load_mesh, model_file

Mount = Literal["point", "ceiling", "floor", "beside", "bay_end", "ground"]
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Entry:
    """How to make one type's model."""

    build: Callable[[], trimesh.Trimesh]
    rgb: RGB
    mount: Mount
    on_pole: bool = False


#: Device type (the registry's ``type``) → its entry.
CATALOGUE: dict[str, Entry] = {
    "smoke_detector": Entry(procedural.smoke_detector, (220, 45, 45), "ceiling"),
    "temperature_sensor": Entry(procedural.temperature_sensor, (245, 140, 60), "ceiling"),
    "humidity_sensor": Entry(procedural.humidity_sensor, (70, 160, 240), "ceiling"),
    "air_quality_sensor": Entry(procedural.air_quality_sensor, (110, 200, 90), "ceiling"),
    "energy_meter": Entry(procedural.energy_meter, (250, 190, 30), "floor"),
    "water_meter": Entry(procedural.water_meter, (30, 100, 200), "floor"),
    "lift": Entry(procedural.lift, (90, 120, 150), "floor"),
    "access_door": Entry(procedural.access_door, (230, 80, 170), "beside"),
    "street_light": Entry(procedural.street_light, (205, 210, 220), "ground"),
    "charging_pile": Entry(procedural.charging_pile, (30, 185, 160), "bay_end"),
    "manhole_cover": Entry(procedural.manhole_cover, (150, 110, 70), "ground"),
    "parking_sensor": Entry(procedural.parking_sensor, (255, 235, 80), "ground"),
    "camera": Entry(procedural.camera, (150, 80, 230), "point", on_pole=True),
    "pressure_sensor": Entry(procedural.pressure_sensor, (0, 170, 210), "point"),
    "flow_sensor": Entry(procedural.flow_sensor, (60, 200, 230), "point"),
    "level_sensor": Entry(procedural.level_sensor, (20, 140, 140), "point"),
    "leak_detector": Entry(procedural.leak_detector, (255, 120, 40), "point"),
    "people_counter": Entry(procedural.people_counter, (0, 230, 118), "ceiling"),
    "weather_station": Entry(procedural.weather_station, (176, 190, 197), "point"),
}
GENERIC = Entry(procedural.generic, (240, 100, 240), "point", on_pole=True)
DEVICE_TYPES: tuple[str, ...] = tuple(CATALOGUE)


@dataclass(frozen=True, eq=False)
class DeviceModel:
    """One device type's mesh (metres, Z up, origin at the mounting point), colour and mount."""

    device_type: str
    vertices_m: np.ndarray  # (n, 3) float64
    faces: np.ndarray  # (m, 3) int64
    rgb: RGB
    mount: Mount
    on_pole: bool = False
    source: Path | None = None  # the file it was read from; None when procedural

    @property
    def n_triangles(self) -> int:
        return len(self.faces)


def model(device_type: str, folder: Path | None = MODELS_DIR) -> DeviceModel:
    """The model of a device type: from ``folder`` when it holds a file for the type, else built."""
    entry = CATALOGUE.get(device_type, GENERIC)
    source = model_file(device_type, folder) if folder is not None else None
    mesh = load_mesh(source) if source is not None else entry.build()
    return DeviceModel(device_type, np.asarray(mesh.vertices, dtype=np.float64),
                       np.asarray(mesh.faces, dtype=np.int64), entry.rgb, entry.mount, entry.on_pole, source)


def device_rgb(device_type: str) -> RGB:
    """The colour a device type is drawn in (the generic colour for an unknown type)."""
    return CATALOGUE.get(device_type, GENERIC).rgb
