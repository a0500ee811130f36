"""Scene files (design decision 6): read and check ``scenes/<park>/scene.toml`` (format in
``docs/scene-format.md``), and load the park it describes — or a park from one ``.ifc`` file."""
from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyproj

from gis.layers import LayerSpec
from gis.roles import ROLES
from ifc.placement import Anchor
from live.config import LiveSpec, live_problems, read_live
from live.inspections import InspectionSpec, inspection_problems, read_inspections
from twin.energy.config import EnergySpec, read_energy
from twin.errors import InputError
from twin.plans import PlanSpec, plan_problems, read_plans
from twin.teams import TeamSpec, read_teams, team_problems
from twin.tours import TourSpec, build_tours, read_tours, tour_problems
from twin.wall import WallSpec, read_wall

_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_TOP_KEYS = {"name", "crs", "origin", "ground", "ifc", "layers", "devices", "leases", "tours", "live", "plans",
              "teams", "inspections", "energy", "wall"}
_IFC_KEYS = {"key", "path", "anchor", "replaces"}
_ANCHOR_KEYS = {"easting", "northing", "elevation", "rotation_deg"}
_LAYER_KEYS = {"key", "path", "layer", "role", "id_field", "crs", "where", "fields"}
_GROUND_KEYS = {"elevation_m", "dem"}


class SceneError(InputError):
    """A scene that cannot be loaded; the message names the file and field of every problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class IfcSource:
    path: Path
    key: str | None = None
    anchor: Anchor | None = None
    replaces: str | None = None

    @property
    def prefix(self) -> str:
        return f"ifc:{self.key}:" if self.key else "ifc:"


@dataclass(frozen=True)
class Scene:
    """A parsed, checked scene file; every path is absolute."""

    file: Path
    name: str
    crs: str
    origin_m: tuple[float, float, float]
    ground_elevation_m: float
    dem: Path | None = None
    ifc: tuple[IfcSource, ...] = ()
    layers: tuple[LayerSpec, ...] = ()
    devices: Path | None = None
    leases: Path | None = None
    ground_elevation_given: bool = True  # a DEM's fallback off the raster: this, else its median
    tours: tuple[TourSpec, ...] = ()  # checked against the park when it is loaded
    live: LiveSpec = LiveSpec()  # devices' metrics, topic bindings and alarm rules ([live])
    plans: tuple[PlanSpec, ...] = ()  # emergency plans ([[plans]])
    teams: tuple[TeamSpec, ...] = ()  # emergency response teams ([[teams]]); bases checked on the park
    inspections: tuple[InspectionSpec, ...] = ()  # rounds ([[inspections]]); routes checked on the park
    energy: EnergySpec = EnergySpec()  # meters, time zone and emission factors of the energy reports ([energy])
    wall: WallSpec = WallSpec()  # what the large screen shows ([wall])

    def files(self) -> list[Path]:
        """Every file the scene names (for the compile cache key)."""
        return [self.file, *(s.path for s in self.ifc), *(s.path for s in self.layers),
                *(p for p in (self.dem, self.devices, self.leases) if p is not None)]


def scene_file(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path / "scene.toml" if path.is_dir() else path


class _Reader:
    """Collects every problem of a scene file instead of stopping at the first."""

    def __init__(self, file: Path):
        self.file, self.problems = file, []

    def problem(self, where: str, cause: str) -> None:
        self.problems.append(f"{self.file}: {where}: {cause}")

    def unknown(self, table: dict, allowed: set[str], where: str) -> None:
        for key in sorted(set(table) - allowed):
            self.problem(f"{where}{key}", f"unknown key (known: {', '.join(sorted(allowed))})")

    def text(self, table: dict, key: str, where: str, required: bool = False) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self.problem(f"{where}{key}", "missing")
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(f"{where}{key}", f"must be a non-empty string, not {value!r}")
            return None
        return value

    def number(self, table: dict, key: str, where: str, default: float | None = None) -> float | None:
        value = table.get(key, default)
        if value is None:
            self.problem(f"{where}{key}", "missing")
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(f"{where}{key}", f"must be a number, not {value!r}")
            return None
        elif not math.isfinite(value):
            self.problem(f"{where}{key}", f"must be a finite number, not {value!r}")
            return None
        return None if value is None else float(value)

    def path(self, table: dict, key: str, where: str, required: bool = True) -> Path | None:
        value = self.text(table, key, where, required)
        if value is None:
            return None
        path = (self.file.parent / value).resolve()
        if not path.exists():  # a file, or a folder dataset such as a File Geodatabase
            self.problem(f"{where}{key}", f"{value}: no such file")
            return None
        return path

    def crs(self, table: dict, key: str, where: str, required: bool = False,
            projected: bool = False) -> str | None:
        value = self.text(table, key, where, required)
        if value is None:
            return None
        try:
            crs = pyproj.CRS.from_user_input(value)
        except pyproj.exceptions.CRSError:
            self.problem(f"{where}{key}", f"{value!r} is not a CRS PROJ knows (write it as EPSG:NNNN)")
            return None
        if projected and not (crs.is_projected and crs.axis_info[0].unit_name in ("metre", "meter")):
            self.problem(f"{where}{key}", f"{value} is not a projected CRS in metres")
            return None
        epsg = crs.to_epsg()
        return f"EPSG:{epsg}" if epsg else crs.to_wkt()

    def tables(self, scene: dict, key: str) -> list[tuple[str, dict]]:
        value = scene.get(key, [])
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            self.problem(key, f"must be a list of tables ([[{key}]])")
            return []
        return [(f"{key}[{i}].", t) for i, t in enumerate(value)]

    def keyed(self, scene: dict, key: str, parse: Callable[[_Reader, str, dict], Any]) -> tuple:
        """Every ``[[key]]`` table that ``parse(reader, where, table)`` makes something of; two with the
        same ``key`` field are a problem."""
        items = [item for where, t in self.tables(scene, key) if (item := parse(self, where, t)) is not None]
        keys = [item.key for item in items]
        for twice in sorted({k for k in keys if keys.count(k) > 1}):
            self.problem(key, f"key {twice!r} is used twice")
        return tuple(items)

    def table(self, scene: dict, key: str) -> dict:
        value = scene.get(key, {})
        if not isinstance(value, dict):
            self.problem(key, f"must be a table ([{key}])")
            return {}
        return value


def _ifc_source(r: _Reader, where: str, t: dict) -> IfcSource | None:
    r.unknown(t, _IFC_KEYS, where)
    path = r.path(t, "path", where)
    key = r.text(t, "key", where)
    if key is not None and not _KEY_RE.match(key):
        r.problem(f"{where}key", f"{key!r}: use letters, digits, '_' or '-'")
    replaces = r.text(t, "replaces", where)
    if replaces is not None and not replaces.startswith("gis:"):
        r.problem(f"{where}replaces", f"{replaces!r} must name a GIS building node (gis:<layer>:<id>)")
    anchor = None
    if "anchor" in t:
        a, at = t["anchor"], f"{where}anchor."
        if not isinstance(a, dict):
            r.problem(f"{where}anchor", "must be a table ([ifc.anchor])")
        else:
            r.unknown(a, _ANCHOR_KEYS, at)
            values = [r.number(a, "easting", at), r.number(a, "northing", at),
                      r.number(a, "elevation", at, 0.0), r.number(a, "rotation_deg", at, 0.0)]
            anchor = Anchor(*values) if None not in values else None
    return IfcSource(path, key, anchor, replaces) if path else None


def _layer_source(r: _Reader, where: str, t: dict) -> LayerSpec | None:
    r.unknown(t, _LAYER_KEYS, where)
    key, path = r.text(t, "key", where, required=True), r.path(t, "path", where)
    role, id_field = r.text(t, "role", where, required=True), r.text(t, "id_field", where, required=True)
    if key is not None and not _KEY_RE.match(key):
        r.problem(f"{where}key", f"{key!r}: use letters, digits, '_' or '-'")
    if role is not None and role not in ROLES:
        r.problem(f"{where}role", f"unknown role {role!r} (known: {', '.join(ROLES)})")
    fields = t.get("fields", {})
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        r.problem(f"{where}fields", "must be a table of attribute = \"column\" strings")
        fields = {}
    if None in (key, path, role, id_field) or role not in ROLES:
        return None
    return LayerSpec(key, path, role, id_field, r.text(t, "layer", where), r.crs(t, "crs", where),
                       r.text(t, "where", where), dict(fields))


def read_scene(path: str | os.PathLike) -> Scene:
    """Parse and check a scene file; raise :class:`SceneError` listing every problem found."""
    file = scene_file(path).resolve()
    r = _Reader(file)
    if not file.is_file():
        raise SceneError([f"{file}: no such scene file"])
    try:
        data: dict[str, Any] = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SceneError([f"{file}: not valid TOML ({exc})"]) from exc
    r.unknown(data, _TOP_KEYS, "")
    name = r.text(data, "name", "", required=True)
    crs = r.crs(data, "crs", "", required=True, projected=True)
    origin = data.get("origin")
    if not (isinstance(origin, list) and len(origin) == 3
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in origin)):
        r.problem("origin", f"must be [easting, northing, elevation] in metres, not {origin!r}")
        origin = [0.0, 0.0, 0.0]
    ground = r.table(data, "ground")
    r.unknown(ground, _GROUND_KEYS, "ground.")
    elevation = r.number(ground, "elevation_m", "ground.", float(origin[2]))
    dem = r.path(ground, "dem", "ground.", required=False)  # read (and checked) when the park is built
    ifc = [s for where, t in r.tables(data, "ifc") if (s := _ifc_source(r, where, t))]
    layers = [s for where, t in r.tables(data, "layers") if (s := _layer_source(r, where, t))]
    for kind, keys in (("ifc", [s.prefix for s in ifc]), ("layers", [s.key for s in layers])):
        for key in sorted({k for k in keys if keys.count(k) > 1} - {"ifc:"}):
            r.problem(kind, f"key {key!r} is used twice")
    devices = r.path(r.table(data, "devices"), "path", "devices.", required=False)
    leases = r.path(r.table(data, "leases"), "path", "leases.", required=False)
    tours = read_tours(r, data)
    live = read_live(r, data)
    plans = read_plans(r, data)
    teams = read_teams(r, data)
    inspections = read_inspections(r, data)
    energy = read_energy(r, data, live)
    wall = read_wall(r, data, live, tours)
    for where, cause in plan_problems(plans, live, teams):
        r.problem(where, cause)
    if r.problems:
        raise SceneError(r.problems)
    return Scene(file, name, crs, tuple(float(v) for v in origin), elevation, dem, tuple(ifc),
                 tuple(layers), devices, leases, "elevation_m" in ground, tours, live, plans, teams,
                 inspections, energy, wall)


def load_park(path: str | os.PathLike, progress: Callable[[int], None] | None = None):
    """A park from ``scenes/<park>/`` (or its ``scene.toml``), or from one ``.ifc`` file."""
    file = scene_file(path)
    if file.suffix.lower() != ".toml":
        from ifc.importer import import_ifc
        return import_ifc(file, progress=progress)
    from twin.compose import compose
    scene = read_scene(file)
    park = compose(scene, progress)
    problems = (tour_problems(scene, park) + live_problems(scene.live, park, scene.file)
                + team_problems(scene.teams, park, scene.file)
                + inspection_problems(scene.inspections, scene.teams, park, scene.file))
    if problems:
        raise SceneError(problems)
    park.tours = build_tours(scene, park)
    park.teams = scene.teams
    return park
