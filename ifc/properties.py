"""Property and quantity sets of an IFC entity, read on demand (and picklable, for the compile cache)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.util.element

from ifc.reader import open_ifc

_models: dict[Path, ifcopenshell.file] = {}  # files already open in this process, by resolved path


def remember(path: Path, model: ifcopenshell.file) -> None:
    """Register an opened model so property reads need not open it again."""
    _models[Path(path).resolve()] = model


class IfcProperties:
    """Reads ``{set name: {property: value}}`` for one entity; opens its file only on first use."""

    def __init__(self, path: Path, step_id: int):
        self.path, self.step_id = Path(path).resolve(), step_id

    def __call__(self) -> dict[str, dict[str, Any]]:
        if self.path not in _models:
            _models[self.path] = open_ifc(self.path)
        return ifcopenshell.util.element.get_psets(_models[self.path].by_id(self.step_id))
