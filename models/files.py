"""Device meshes from files: ``<folder>/<device type>.glb|.gltf|.obj|.stl``, read with trimesh.

Files are taken in metres with the origin at the mounting point. glTF is Y up by its specification,
so it is turned Z up; OBJ and STL carry no convention and are taken as Z up. trimesh is imported
on first read, so the compile cache can list model files without it.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from twin.errors import InputError

if TYPE_CHECKING:
    import trimesh

#: The built-in model folder (this package's own).
MODELS_DIR = Path(__file__).resolve().parent
#: File suffixes tried for a device type, in order.
MODEL_SUFFIXES = (".glb", ".gltf", ".obj", ".stl")
_Y_UP_SUFFIXES = (".glb", ".gltf")


def model_file(device_type: str, folder: Path) -> Path | None:
    """The first ``<folder>/<device_type><suffix>`` that exists, else None."""
    return next((p for s in MODEL_SUFFIXES if (p := folder / f"{device_type}{s}").is_file()), None)


def model_files(folder: Path) -> list[Path]:
    """Every mesh file in a folder, sorted (what a compile depends on besides code)."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in MODEL_SUFFIXES and p.is_file())


def load_mesh(path: Path) -> trimesh.Trimesh:
    """One triangle mesh from a file (a scene's meshes are merged with their transforms), Z up;
    raises :class:`InputError` naming the file when it cannot be read or holds no triangles."""
    import trimesh

    try:
        mesh = trimesh.load(path, force="mesh")
    except Exception as exc:  # trimesh raises many types for unreadable files
        raise InputError(f"{path}: not a readable mesh ({exc})") from None
    if not isinstance(mesh, trimesh.Trimesh) or not len(mesh.faces):
        raise InputError(f"{path}: the file holds no triangles")
    if path.suffix.lower() in _Y_UP_SUFFIXES:
        mesh.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, (1, 0, 0)))
    return mesh
