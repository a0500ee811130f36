"""Exit choice: the walking distance from every opening to the exits a person may use, avoiding
places the hazard is about to make untenable, and the next opening to head for."""
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
        self.points = np.array([o.point_m for o in graph.openings]).reshape(-1, 3)
        self.distances = lru_cache(maxsize=64)(self._distances)

    def _distances(self, targets: frozenset[int], blocked: frozenset[int]) -> np.ndarray:
        """Per opening, the shortest walk to one of ``targets`` through places not ``blocked``."""
        n = len(self.graph.openings)
        rows, cols, weights = [], [], []
        for i, place in enumerate(self.graph.places):
            if place.kind == "outside" or i in blocked:
                continue
            ops = self.usable[i]
            for a in ops:
                for b in ops:
                    if a != b:
                        rows.append(a)
                        cols.append(b)
                        weights.append(max(self.graph.walk_m(i, self.points[a], b), 1e-3))
        matrix = csr_matrix((weights, (rows, cols)), shape=(n, n))
        sources = sorted(targets - self.closed)
        if not sources:
            return np.full(n, math.inf)
        return dijkstra(matrix, directed=True, indices=sources, min_only=True)

    def next_opening(self, place: int, xy_m: np.ndarray, targets: frozenset[int],
                     blocked: frozenset[int], came: int | None = None) -> int | None:
        """The opening of ``place`` that starts the shortest walk to a target, or None if none leads out;
        the opening just ``came`` through only when no other leads out."""
        dist = self.distances(targets, blocked - {place})
        best, best_m = None, math.inf
        for o in self.usable[place]:
            if (self.graph.openings[o].kind == "exit" and o not in targets) or o == came:
                continue
            total = self.graph.walk_m(place, xy_m, o) + dist[o]
            if total < best_m:
                best, best_m = o, total
        if best is None and came is not None and math.isfinite(dist[came]):
            return came
        if best is None and blocked:
            return self.next_opening(place, xy_m, targets, frozenset(), came)
        return best
