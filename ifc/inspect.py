"""``twin inspect``: what an IFC file holds, by the counts other tools script against."""
from __future__ import annotations

import os
from collections.abc import Callable

from ifc.geometry import shapes
from ifc.georef import read_georeference
from ifc.reader import open_ifc
from ifc.spatial import counted_elements


def inspect_ifc(path: str | os.PathLike, progress: Callable[[int], None] | None = None) -> dict:
    """``{"schema", "buildings", "storeys", "spaces", "elements", "elements_without_geometry",
    "georeference": {"method", "epsg", "lat", "lon"}}`` for one IFC file."""
    model = open_ifc(path)
    elements = {e.id() for e in counted_elements(model)}
    shaped = {shape.step_id for shape in shapes(model, progress=progress)}
    return {
        "schema": model.schema_identifier,
        "buildings": len(model.by_type("IfcBuilding")),
        "storeys": len(model.by_type("IfcBuildingStorey")),
        "spaces": len(model.by_type("IfcSpace")),
        "elements": len(elements),
        "elements_without_geometry": len(elements - shaped),
        "georeference": read_georeference(model).as_dict(),
    }
