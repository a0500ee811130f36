"""Tessellate an IFC model with ifcopenshell's geometry iterator, on all cores, in world metres."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import ifcopenshell
import ifcopenshell.geom
import numpy as np

#: Products the iterator should skip: openings are subtracted from their hosts, never drawn.
EXCLUDED_CLASSES = ["IfcOpeningElement"]


def thread_count() -> int:
    """All cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def settings() -> ifcopenshell.geom.settings:
    s = ifcopenshell.geom.settings()
    s.set("use-world-coords", True)
    s.set("weld-vertices", True)
    return s


def iterator(model: ifcopenshell.file, threads: int | None = None) -> ifcopenshell.geom.iterator:
    """The geometry iterator with the settings every caller (import, benchmark) shares."""
    it = ifcopenshell.geom.iterator(settings(), model, threads or thread_count(), exclude=EXCLUDED_CLASSES)
    it.file = model  # ifcopenshell 0.9 keeps no reference to a file object: it would crash once freed
    return it


@dataclass(eq=False)
class Shape:
    """One product's triangles in world metres."""

    step_id: int
    vertices_m: np.ndarray  # (n, 3) float64
    faces: np.ndarray  # (m, 3) int32


def shapes(model: ifcopenshell.file, threads: int | None = None,
           progress: Callable[[int], None] | None = None) -> Iterator[Shape]:
    """Yield every product shape the iterator produces (some may hold no triangles);
    ``progress(percent)`` as it goes."""
    it = iterator(model, threads)
    if not it.initialize():
        return
    last = -1
    while True:
        shape = it.get()
        geometry = shape.geometry
        yield Shape(shape.id, np.frombuffer(geometry.verts_buffer, dtype=np.float64).reshape(-1, 3),
                    np.frombuffer(geometry.faces_buffer, dtype=np.int32).reshape(-1, 3))
        if progress is not None and (percent := it.progress()) != last:
            progress(last := percent)
        if not it.next():
            break
