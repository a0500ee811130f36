"""The info card's content: what the park knows about one node, as escaped HTML."""
from __future__ import annotations

from html import escape
from typing import Any

from twin.park import Node, Park
from twin.web.messages import t


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def _row(label: str, value: Any) -> str:
    return (f"<tr><th style='text-align:left;padding-right:8px;white-space:nowrap'>{escape(label)}</th>"
            f"<td>{escape(_value(value))}</td></tr>")


def _label(node: Node) -> str:
    return node.name or node.long_name or node.id


def property_sets(node: Node) -> str:
    """Each property set as a collapsible table."""
    if not node.properties:
        return f"<p>{escape(t('no_properties'))}</p>"
    return "".join(
        f"<details><summary>{escape(name)}</summary><table>"
        + "".join(_row(key, value) for key, value in props.items())
        + "</table></details>"
        for name, props in node.properties.items())


def node_card(park: Park, node_id: str) -> str:
    """The card for ``node_id``; a hint to click something when it is empty."""
    if not node_id:
        return f"<p>{escape(t('info_empty'))}</p>"
    node = park.get(node_id)
    path = " › ".join(_label(n) for n in park.path(node_id))
    fields = [("name", node.name), ("kind", t(f"kind.{node.kind}")), ("ifc_class", node.ifc_class),
              ("long_name", node.long_name), ("path", path), ("id", node.id)]
    rows = "".join(_row(t(key), value) for key, value in fields if value)
    return (f"<table class='twin-node' data-node-id='{escape(node.id)}'>{rows}</table>"
            f"<h4>{escape(t('properties'))}</h4>{property_sets(node)}")
