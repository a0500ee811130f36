"""Reading one GDAL layer as it is: the layer chosen, its attribute table, its geometry (unrepaired)."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pyogrio.raw
import shapely

from twin.errors import InputError

log = logging.getLogger(__name__)


def open_error(path: Path, exc: Exception) -> InputError:
    """A one-line InputError for a file GDAL cannot open or read."""
    cause = " ".join(str(exc).split()) or type(exc).__name__
    return InputError(f"{path}: GDAL cannot read it ({cause})")


def choose_layer(path: Path, layer: str | None) -> tuple[str, dict]:
    """The layer to read (``layer``, else the only one) and GDAL's info about it."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(path)]
    except pyogrio.errors.DataSourceError as exc:
        raise open_error(path, exc) from exc
    if layer is None:
        if len(names) != 1:
            raise InputError(f"{path}: {len(names)} layers ({', '.join(names)}); state `layer` in the scene file")
        layer = names[0]
    elif layer not in names:
        raise InputError(f"{path}: no layer {layer!r} (it has {', '.join(names)})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return layer, pyogrio.read_info(path, layer=layer)


def read_table(path: Path, layer: str, where: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    """The layer's attributes and its geometries (shapely, rings closed, not yet made valid)."""
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", RuntimeWarning)
        try:
            meta, _, wkb, columns = pyogrio.raw.read(path, layer=layer, where=where, datetime_as_string=True)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                pyogrio.errors.FieldError, ValueError) as exc:  # ValueError: a bad `where`
            what = f"where {where!r}" if where else "reading"
            raise InputError(f"{path} layer {layer}: {what} failed ({' '.join(str(exc).split())})") from exc
    for note in {str(n.message) for n in notes}:
        log.info("%s layer %s: GDAL: %s", path, layer, note)
    table = pd.DataFrame(dict(zip(meta["fields"], columns)))
    geometry = (shapely.from_wkb(wkb, on_invalid="fix") if wkb is not None
                else np.full(len(table), None, dtype=object))
    return table, geometry
