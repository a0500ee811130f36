"""Valve segments: the parts of a network that closing valves can cut off one from another.

The rules are ``wntr.metrics.topographic.valve_segments``' own: nodes joined by links without a
valve form a segment; a link with a valve at one end belongs to the segment of its other end; a
link with valves at both ends is a segment of its own. Computed in one pass of sparse connected
components, so a network of 100,000 pipes takes milliseconds, not wntr's minutes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from twin.networks.model import PipeNetwork


@dataclass(frozen=True)
class Segments:
    """Segment number per node and per link, and how many segments there are."""

    node: np.ndarray  # (nodes,) int
    link: np.ndarray  # (links,) int
    count: int


def valve_segments(net: PipeNetwork) -> Segments:
    """Label every node and link with its valve segment (numbers are arbitrary, groups are wntr's)."""
    ends = net.ends
    n_nodes = len(net.nodes)
    at_start = np.zeros(len(ends), bool)
    at_end = np.zeros(len(ends), bool)
    link, node = net.valves["link"].to_numpy(np.int64), net.valves["node"].to_numpy(np.int64)
    at_start[link[ends[link, 0] == node]] = True
    at_end[link[ends[link, 1] == node]] = True
    open_ = ~(at_start | at_end)
    graph = coo_matrix((np.ones(int(open_.sum()), np.int8), (ends[open_, 0], ends[open_, 1])),
                       shape=(n_nodes, n_nodes))
    count, node_segment = connected_components(graph, directed=False)
    link_segment = np.where(at_start, node_segment[ends[:, 1]], node_segment[ends[:, 0]])
    both = np.flatnonzero(at_start & at_end)
    link_segment[both] = count + np.arange(len(both))
    return Segments(node_segment.astype(np.int64), link_segment.astype(np.int64), count + len(both))
