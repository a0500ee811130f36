"""What the park knows about one node: as JSON-able data (:func:`node_record`, the REST API's
``GET /api/nodes/{id}``) and as the app's info card (:func:`node_card`, escaped HTML)."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from html import escape
from typing import Any
from urllib.parse import urlencode

import numpy as np

from twin.park import Park
from twin.search import SEPARATOR
from twin.web.messages import t
from twin.web.privacy import masked_sets


def json_safe(value: Any) -> Any:
    """A property value as JSON can carry it: numpy scalars unwrapped, NaN/inf as None, sequences
    as lists, anything else (IFC entities, dates…) as its text."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return [json_safe(v) for v in value]
    return str(value)


def node_record(park: Park, node_id: str, may: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """The card's content: identity, breadcrumbs (``path``, root first), WGS84 centre (``lon``,
    ``lat`` in degrees, ``z`` in metres; None where the park is placed nowhere or the node has no
    geometry), park-frame ``bounds_m`` and the property sets — their personal values masked when
    ``may`` (the reader's permissions) refuses ``personal.read``. Raises KeyError for an unknown id."""
    node = park.get(node_id)
    position = park.lonlat(node_id)
    lon, lat, z = position if position is not None else (None, None, None)
    return {"id": node.id, "kind": node.kind, "ifc_class": node.ifc_class, "name": node.name,
            "long_name": node.long_name, "code": node.code, "type_name": node.type_name,
            "path": [{"id": n.id, "name": n.name, "kind": n.kind} for n in park.path(node_id)],
            "lon": lon, "lat": lat, "z": z,
            "bounds_m": json_safe(node.bounds_m) if node.bounds_m is not None else None,
            "properties": json_safe(node.properties if may is None else masked_sets(node.properties, may))}


def position_text(lon: float, lat: float, z: float, lang: str = "zh") -> str:
    """``31.234567° N, 121.456789° E, 12.3 m`` (in ``lang``'s words)."""
    return ", ".join((t("lat.N" if lat >= 0 else "lat.S", lang).format(deg=f"{abs(lat):.6f}"),
                      t("lon.E" if lon >= 0 else "lon.W", lang).format(deg=f"{abs(lon):.6f}"),
                      t("height", lang).format(m=f"{z:.1f}")))


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def _row(label: str, html: str) -> str:
    """A table row; ``html`` is already escaped."""
    return (f"<tr><th style='text-align:left;padding-right:8px;white-space:nowrap'>{escape(label)}</th>"
            f"<td>{html}</td></tr>")


def breadcrumbs_html(path: list[dict[str, Any]], lang: str = "zh") -> str:
    """The path as crumbs, each a link that opens the app located on it; the plain path is the tooltip."""
    names = [p["name"] or p["id"] for p in path]
    crumbs = (f"<a class='twin-crumb' data-node-id='{escape(p['id'])}' style='color:#4fc3f7' "
              f"href='?{escape(urlencode({'node': p['id'], 'lang': lang}))}'>{escape(name)}</a>"
              for p, name in zip(path, names))
    return f"<span class='twin-path' title='{escape(SEPARATOR.join(names))}'>{SEPARATOR.join(crumbs)}</span>"


def property_sets(properties: dict[str, dict[str, Any]], lang: str = "zh") -> str:
    """Each property set as a collapsible table."""
    if not properties:
        return f"<p>{escape(t('no_properties', lang))}</p>"
    return "".join(
        f"<details><summary>{escape(name)}</summary><table>"
        + "".join(_row(key, escape(_text(value))) for key, value in props.items())
        + "</table></details>"
        for name, props in properties.items())


def node_card(park: Park, node_id: str, lang: str = "zh", may: Callable[[str], bool] | None = None) -> str:
    """The card for ``node_id`` in ``lang`` (``may``: as for :func:`node_record`); a hint to click
    something when it is empty."""
    if not node_id:
        return f"<p>{escape(t('info_empty', lang))}</p>"
    record = node_record(park, node_id, may)
    fields = [("name", record["name"]), ("kind", t(f"kind.{record['kind']}", lang)),
              ("ifc_class", record["ifc_class"]), ("long_name", record["long_name"]),
              ("code", record["code"]), ("type_name", record["type_name"])]
    rows = [_row(t(key, lang), escape(_text(value))) for key, value in fields if value]
    if record["path"]:
        rows.append(_row(t("path", lang), breadcrumbs_html(record["path"], lang)))
    if record["lon"] is not None:
        rows.append(_row(t("position", lang),
                         escape(position_text(record["lon"], record["lat"], record["z"], lang))))
    rows.append(_row(t("id", lang), escape(record["id"])))
    return (f"<table class='twin-node' data-node-id='{escape(record['id'])}'>{''.join(rows)}</table>"
            f"<h4>{escape(t('properties', lang))}</h4>{property_sets(record['properties'], lang)}")
