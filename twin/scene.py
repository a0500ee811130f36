"""Load a park from a scene folder (``scene.toml``) or a single IFC file."""
from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path

from ifc.importer import import_ifc
from twin.errors import InputError
from twin.park import Park


class SceneError(InputError):
    """A scene that cannot be loaded; the message names the file and field."""


def scene_file(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path / "scene.toml" if path.is_dir() else path


def load_park(path: str | os.PathLike, progress: Callable[[int], None] | None = None) -> Park:
    """A park from ``scenes/<park>/`` (or its ``scene.toml``), or from one ``.ifc`` file.

    ``scene.toml`` names the park and its IFC sources::

        name = "示范园区"
        [[ifc]]
        key = "office"          # optional: prefixes ids when GlobalIds repeat across files
        path = "office.ifc"
    """
    file = scene_file(path)
    if file.suffix.lower() != ".toml":
        return import_ifc(file, progress=progress)
    if not file.exists():
        raise SceneError(f"{file}: no such scene file")
    try:
        scene = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SceneError(f"{file}: not valid TOML ({exc})") from exc
    if not isinstance(scene.get("name"), str):
        raise SceneError(f"{file}: field 'name' is missing or not a string")
    sources = scene.get("ifc", [])
    if not isinstance(sources, list) or not all(isinstance(s, dict) and "path" in s for s in sources):
        raise SceneError(f"{file}: field 'ifc' must be a list of tables with a 'path'")
    park = Park(scene["name"], crs=scene.get("crs"))
    for source in sources:
        prefix = f"ifc:{source['key']}:" if "key" in source else "ifc:"
        import_ifc(file.parent / source["path"], progress=progress, prefix=prefix, park=park)
    return park
