"""The maintainer's one search box: find a node by code, name, type or room, in Chinese or English.

Text is folded with :func:`twin.park.fold` (NFKC, case-folded), so ``Ａ－１０１`` finds ``A-101``.
Every word of a query must match (``"301 烟感"``, ``"B01 smoke"``); hits are ranked: exact code or
name first, then a code or name that starts with the query, then the query inside the name, long
name or code, then a match only through the type (type name, IFC class) or the room (the space the
node is in, linked to or hosted by); ties go to the shorter name, then the id.

The folded text of every node is built once per park, on the first search, and kept in a
:class:`weakref.WeakKeyDictionary` keyed by the park (so it goes with the park); it is rebuilt when
the park's node count changes.

>>> [hit.node.code for hit in search(park, "a-101 smoke")]   # doctest: +SKIP
['SD-B01-1F-A-101-1', ...]
"""
from __future__ import annotations

import heapq
import weakref
from dataclasses import dataclass
from typing import Any

from twin.park import Node, Park, fold

SEPARATOR = " › "
#: Ranks, best first.
EXACT, PREFIX, IN_NAME, IN_TYPE_OR_ROOM = range(4)


@dataclass(frozen=True)
class Hit:
    """One search result: the node, its breadcrumbs (names from the root down, ``" › "``-joined)
    and its rank (:data:`EXACT` … :data:`IN_TYPE_OR_ROOM`)."""

    node: Node
    path: str
    rank: int


def _norm(text: str) -> str:
    """Folded, with runs of white space made one space."""
    return " ".join(fold(text).split())


def room_of(park: Park, node: Node) -> Node | None:
    """The space a node is in: its ``space`` or ``host`` link when that is a space, else its nearest
    space ancestor; None for spaces themselves and for nodes in no space."""
    if node.kind == "space":
        return None
    for role in ("space", "host"):
        linked = park.nodes.get(node.links.get(role, ""))
        if linked is not None and linked.kind == "space":
            return linked
    return park.ancestor(node.id, "space")


class SearchIndex:
    """The folded fields of every node but the root, in park order."""

    def __init__(self, park: Park):
        self.size = len(park)
        self.nodes = [n for n in park if n.kind != "park"]
        self.codes = [_norm(n.code) for n in self.nodes]
        self.names = [_norm(n.name) for n in self.nodes]
        # "\n" never occurs in a normalised query, so no match straddles two fields
        self.labels = [f"{name}\n{_norm(n.long_name)}\n{code}"
                       for n, name, code in zip(self.nodes, self.names, self.codes)]
        self.texts = [f"{label}\n{_norm(n.type_name)}\n{fold(n.ifc_class or '')}\n{self._room_text(park, n)}"
                      for n, label in zip(self.nodes, self.labels)]

    @staticmethod
    def _room_text(park: Park, node: Node) -> str:
        room = room_of(park, node)
        return _norm(f"{room.name} {room.long_name}") if room is not None else ""

    def rank(self, i: int, phrase: str, words: list[str]) -> int:
        """The rank of node ``i`` for a query that it matches word by word."""
        code, name = self.codes[i], self.names[i]
        if phrase in (code, name):
            return EXACT
        if (code and code.startswith(phrase)) or name.startswith(phrase):
            return PREFIX
        if all(word in self.labels[i] for word in words):
            return IN_NAME
        return IN_TYPE_OR_ROOM

    def matching(self, words: list[str]) -> list[int]:
        """Indices of the nodes whose text holds every word."""
        texts, found = self.texts, range(len(self.nodes))
        for word in sorted(words, key=len, reverse=True):  # the longest word is the most selective
            found = [i for i in found if word in texts[i]]
        return list(found)


_indexes: weakref.WeakKeyDictionary[Park, SearchIndex] = weakref.WeakKeyDictionary()


def search_index(park: Park) -> SearchIndex:
    """The park's search index, built on first use and rebuilt when nodes were added since."""
    index = _indexes.get(park)
    if index is None or index.size != len(park):
        index = _indexes[park] = SearchIndex(park)
    return index


def breadcrumbs(park: Park, node_id: str) -> str:
    """The names from the root down to a node's parent, ``" › "``-joined (ids stand in for no name)."""
    return SEPARATOR.join(n.name or n.id for n in park.path(node_id))


def search(park: Park, text: str, kind: str | None = None, limit: int | None = 50) -> list[Hit]:
    """The nodes (of ``kind`` if given) matching every word of ``text``, best first, at most ``limit``.

    A blank ``text`` lists the nodes (of ``kind``) in park order.
    """
    index = search_index(park)
    words = _norm(text).split()
    found = index.matching(words)
    if kind is not None:
        found = [i for i in found if index.nodes[i].kind == kind]
    if words:
        phrase = " ".join(words)
        ranked = ((index.rank(i, phrase, words), len(index.nodes[i].name), index.nodes[i].id, i) for i in found)
        best = sorted(ranked) if limit is None else heapq.nsmallest(limit, ranked)
    else:
        best = [(EXACT, 0, "", i) for i in (found if limit is None else found[:limit])]
    return [Hit(index.nodes[i], breadcrumbs(park, index.nodes[i].id), rank) for rank, *_, i in best]


def node_row(park: Park, node: Node) -> dict[str, Any]:
    """A node as ``twin find --json`` and ``GET /api/nodes`` list it."""
    return {"id": node.id, "kind": node.kind, "ifc_class": node.ifc_class, "name": node.name,
            "path": [{"id": p.id, "name": p.name} for p in park.path(node.id)]}
