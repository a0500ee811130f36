"""Exit choice: the walking distance from every opening to the exits a person may use, avoiding
places the hazard is about to make untenable, and the next opening to head for.

Distances are kept per opening *and side*: from a door into the corridor is not from the same
door into the room, so nobody steps into a room only to step out again."""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from twin.evacuation.graph import EvacuationGraph


class Routes:
    """Shortest walks to exits over the graph's openings; ``closed`` openings are never used."""

    def __init__(self, graph: EvacuationGraph, closed: frozenset[int] = frozenset()):
        self.graph, self.closed = graph, closed
        self.usable = [[o for o in p.openings if o not in closed] for p in graph.places]
        points = np.array([o.point_m for o in graph.openings]).reshape(-1, 3)
        self.pair_m = {(i, a, b): max(graph.walk_m(i, points[a], b), 1e-3)
                       for i, ops in enumerate(self.usable) if graph.places[i].kind != "outside"
                       for a in ops for b in ops if a != b}  # (place, from opening, to opening) → walk
        self.distances = lru_cache(maxsize=64)(self._distances)

    def entering(self, opening: int, place: int) -> int:
        """The node 'through ``opening`` into ``place``'."""
        return 2 * opening + (place == self.graph.openings[opening].places[1])

    def _distances(self, targets: frozenset[int], blocked: frozenset[int]) -> np.ndarray:
        """Per node 'through an opening into a place', the shortest walk on to one of ``targets``
        through places not ``blocked``."""
        openings = self.graph.openings
        n = 2 * len(openings)
        shortest: dict[tuple[int, int], float] = {}
        for (i, a, b), m in self.pair_m.items():
            if i in blocked:
                continue
            edge = (self.entering(a, i), self.entering(b, openings[b].other(i)))
            shortest[edge] = min(m, shortest.get(edge, math.inf))
        sources = [self.entering(o, openings[o].places[1]) for o in sorted(targets - self.closed)]
        if not sources:
            return np.full(n, math.inf)
        rows, cols = zip(*shortest) if shortest else ((), ())
        towards = csr_matrix((list(shortest.values()), (cols, rows)), shape=(n, n))  # reversed: from the exits
        return dijkstra(towards, directed=True, indices=sources, min_only=True)

    def next_opening(self, place: int, xy_m: np.ndarray, targets: frozenset[int],
                     blocked: frozenset[int]) -> int | None:
        """The opening of ``place`` that starts the shortest walk to a target, or None if none leads out;
        when every way out crosses a ``blocked`` place, the shortest way regardless."""
        dist = self.distances(targets, blocked - {place})
        best, best_m = None, math.inf
        for o in self.usable[place]:
            if self.graph.openings[o].kind == "exit" and o not in targets:
                continue
            total = self.graph.walk_m(place, xy_m, o) + dist[self.entering(o, self.graph.openings[o].other(place))]
            if total < best_m:
                best, best_m = o, total
        if best is None and blocked:
            return self.next_opening(place, xy_m, targets, frozenset())
        return best
