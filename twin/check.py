"""``twin check``: every problem of a scene, each naming its file and field.

Files are checked without building the park; only tours, live rules and teams, which name nodes and
device types, need the park built (through the compile cache, so a second check is quick).
"""
from __future__ import annotations

import os

from gis.layers import read_layer
from ifc.georef import read_georeference
from ifc.reader import open_ifc
from live.config import live_problems
from twin.cache import compile_scene
from twin.devices import check_rows
from twin.errors import InputError
from twin.ground import scene_ground
from twin.scene import Scene, SceneError, read_scene


def _source_problems(scene: Scene) -> list[str]:
    """Problems inside the files a well-formed scene names (unreadable IFC, no placement…)."""
    problems = []
    for i, source in enumerate(scene.ifc):
        try:
            model = open_ifc(source.path)
        except InputError as exc:
            problems.append(f"{scene.file}: ifc[{i}].path: {exc}")
            continue
        if source.anchor is None and not read_georeference(model).placeable:
            problems.append(f"{scene.file}: ifc[{i}]: {source.path.name} has no georeference; "
                            "give it an [ifc.anchor]")
    for i, spec in enumerate(scene.layers):
        try:
            read_layer(spec)
        except InputError as exc:
            problems.append(f"{scene.file}: layers[{i}]: {exc}")
    if scene.dem is not None:
        try:
            scene_ground(scene)
        except InputError as exc:
            problems.append(f"{scene.file}: ground.dem: {exc}")
    if scene.devices is not None:
        try:
            check_rows(scene.devices)
        except InputError as exc:
            problems.append(f"{scene.file}: devices.path: {exc}")
    return problems


def check_scene(path: str | os.PathLike) -> list[str]:
    """Every problem found in a scene file and the files it names; empty when it is sound."""
    try:
        scene = read_scene(path)
    except SceneError as exc:
        return exc.problems
    problems = _source_problems(scene)
    if problems or not (scene.tours or scene.live.rules or scene.teams or scene.inspections):
        return problems
    try:
        park = compile_scene(scene.file)
    except SceneError as exc:
        return exc.problems
    # again here: a park from the cache skipped load_park's checks, and live/ code is not in its key
    return live_problems(scene.live, park, scene.file)
