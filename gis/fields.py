"""The ``[layers.fields]`` mapping: our attribute ← a column of the file.

A mapping value is one of

- ``"column"``: the file's column; when the file has no such column but has GDAL's OSM
  ``other_tags`` column, the OSM tag of that name inside it (``levels = "building:levels"``);
- ``"column * 1000"``: a column times a factor (units: ``diameter_mm = "diameter * 1000"`` for metres);
- ``"=value"``: a constant for the whole layer (``utility = "=water"``).
"""
from __future__ import annotations

import re

import pandas as pd

from gis.roles import NUMERIC_ATTRIBUTES
from twin.errors import InputError

OSM_TAGS = "other_tags"
_SCALED = re.compile(r"^(?P<column>.+?)\s*\*\s*(?P<factor>[-+0-9.eE]+)$")


def osm_tag(other_tags: pd.Series, key: str) -> pd.Series:
    """One OSM tag out of GDAL's ``other_tags`` (``"k"=>"v","k2"=>"v2"``), None where absent."""
    pattern = '"' + re.escape(key) + r'"=>"((?:[^"\\]|\\.)*)"'
    return other_tags.astype("string").str.extract(pattern, expand=False).astype(object).where(
        lambda s: s.notna(), None)


def map_fields(table: pd.DataFrame, fields: dict[str, str], where: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """``table`` with our attributes added (numbers parsed), and per attribute how many values did
    not parse as numbers. ``where`` names the file and layer in errors."""
    out = table.copy()
    unparsed: dict[str, int] = {}
    for attribute, source in fields.items():
        values = _values(table, attribute, source, where)
        if attribute in NUMERIC_ATTRIBUTES:
            numbers = pd.to_numeric(values, errors="coerce").astype(float)
            bad = int((numbers.isna() & values.notna()).sum())
            if bad:
                unparsed[attribute] = bad
            values = numbers
        out[attribute] = values
    return out, unparsed


def _values(table: pd.DataFrame, attribute: str, source: str, where: str) -> pd.Series:
    if not isinstance(source, str):
        raise InputError(f"{where}: field {attribute!r} must name a column (or '=value'), not {source!r}")
    if source.startswith("="):
        return pd.Series([source[1:]] * len(table), index=table.index, dtype=object)
    scaled = _SCALED.match(source)
    column, factor = (scaled["column"], float(scaled["factor"])) if scaled and source not in table else (source, None)
    if column in table:
        values = table[column]
    elif OSM_TAGS in table:
        values = osm_tag(table[OSM_TAGS], column)
    else:
        raise InputError(f"{where}: field {attribute!r} names column {column!r}, which the layer lacks "
                         f"(it has {', '.join(table.columns)})")
    if factor is not None:
        values = pd.to_numeric(values, errors="coerce") * factor
    return values
