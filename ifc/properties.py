"""Property and quantity sets of an IFC entity, read on demand (and picklable, for the compile cache)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.util.element
import ifcopenshell.util.unit

from ifc.reader import open_ifc

SIZE_ATTRIBUTES = ("OverallWidth", "OverallHeight")  #: IfcDoor and IfcWindow attributes, not in any set
_models: dict[Path, ifcopenshell.file] = {}  # files already open in this process, by resolved path


def remember(path: Path, model: ifcopenshell.file) -> None:
    """Register an opened model so property reads need not open it again."""
    _models[Path(path).resolve()] = model


class IfcProperties:
    """Reads ``{set name: {property: value}}`` for one entity; opens its file only on first use."""

    def __init__(self, path: Path, step_id: int):
        self.path, self.step_id = Path(path).resolve(), step_id

    def __call__(self) -> dict[str, dict[str, Any]]:
        """Its property and quantity sets, and (a door's, a window's) overall size in metres as ``Attributes``."""
        if self.path not in _models:
            _models[self.path] = open_ifc(self.path)
        model = _models[self.path]
        entity = model.by_id(self.step_id)
        found = ifcopenshell.util.element.get_psets(entity)
        sizes = {name: getattr(entity, name) for name in SIZE_ATTRIBUTES if getattr(entity, name, None)}
        if sizes:
            scale = ifcopenshell.util.unit.calculate_unit_scale(model)
            found["Attributes"] = {name: round(value * scale, 4) for name, value in sizes.items()}
        return found
