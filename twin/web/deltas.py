"""Node ids to per-batch indices (design decision 5): what a state change sends instead of geometry.

A style change for any set of nodes travels as, per batch, the nodes' int32 indices into that
batch's ``node_ids``; its cost grows with the nodes changed, never with the park.

>>> index = node_index(park)                                   # doctest: +SKIP  (one per park)
>>> index.parts(["ifc:2O2Fr$t4X7Zf8NOew3FLOH"])  # batch 12, one node, its index 7  # doctest: +SKIP
'DAAAAAEAAAAHAAAA'
"""
from __future__ import annotations

import base64
import weakref
from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from twin.park import Park


class NodeIndex:
    """Where each node's cells are: ``node id -> [(batch number, index in its node_ids)]``."""

    def __init__(self, park: Park):
        self.park = park
        self._where: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for number, batch in enumerate(park.batches):
            for local, node_id in enumerate(batch.node_ids):
                self._where[node_id].append((number, local))
        self._where = dict(self._where)

    def __contains__(self, node_id: str) -> bool:
        return node_id in self._where

    def batches_of(self, node_id: str) -> list[int]:
        return [number for number, _ in self._where.get(node_id, ())]

    def drawn(self, node_ids: Iterable[str]) -> list[str]:
        """The ids, with each one not drawn itself (a building, a storey) replaced by its drawn descendants."""
        out = []
        for node_id in node_ids:
            if node_id in self._where:
                out.append(node_id)
            elif node_id in self.park:
                out.extend(n.id for n in self.park.descendants(node_id) if n.id in self._where)
        return out

    def parts(self, node_ids: Iterable[str]) -> str:
        """The drawn ones as one base64 string of little-endian int32: for each batch touched,
        ``batch number, count, node indices…`` (one string, however many batches: cheap to send)."""
        grouped: dict[int, list[int]] = defaultdict(list)
        where = self._where
        for node_id in node_ids:
            for number, local in where.get(node_id, ()):
                grouped[number].append(local)
        flat: list[int] = []
        for number, locals_ in grouped.items():
            flat += (number, len(locals_), *locals_)
        return base64.b64encode(np.asarray(flat, "<i4").tobytes()).decode("ascii")


_indexes: weakref.WeakKeyDictionary[Park, NodeIndex] = weakref.WeakKeyDictionary()


def node_index(park: Park) -> NodeIndex:
    """The park's node index, built on first use and shared by every session."""
    if park not in _indexes:
        _indexes[park] = NodeIndex(park)
    return _indexes[park]
