"""The server's heap kept near its working size.

A long-running server's resident memory creeps up although its live objects do not: glibc gives each
thread that allocates an arena of its own (a served park runs a score of threads: MQTT clients, the
simulator's gateways, the render thread, the web loop) and keeps the pages freed in them. ``twin serve``
caps the arenas before its threads start (:func:`cap_arenas`) and gives the free pages back every
:data:`TRIM_EVERY_S` (:func:`release_free_memory`). Both do nothing where the C library is not glibc.
"""
from __future__ import annotations

import ctypes
import multiprocessing
from collections.abc import Callable
from pathlib import Path

ARENAS_MAX = 2  #: malloc arenas: the threads mostly wait on the GIL, so more buy no speed, only memory
TRIM_EVERY_S = 60  #: how often a server gives its free heap pages back (a few ms each time)
_M_ARENA_MAX = -8  #: mallopt's parameter number (malloc.h)


def _glibc(name: str) -> Callable[..., int] | None:
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


_mallopt, _malloc_trim = _glibc("mallopt"), _glibc("malloc_trim")


def cap_arenas(arenas: int = ARENAS_MAX) -> None:
    """At most ``arenas`` malloc arenas from now on; call it before the threads start."""
    if _mallopt is not None:
        _mallopt(_M_ARENA_MAX, arenas)


def release_free_memory() -> None:
    """Give the free pages of every arena back to the system (glibc's ``malloc_trim(0)``)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def resident_mb(pid: int | None = None) -> float | None:
    """The resident set (``/proc/<pid>/status`` VmRSS) of process ``pid`` (default: this one), MB; None
    where there is no /proc or no such process."""
    try:
        status = Path(f"/proc/{pid or 'self'}/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), None)


def workers_mb() -> float | None:
    """The resident sets of this process's worker processes (its ``multiprocessing`` children: the camera
    pictures', the drills'), MB together; None where there is no /proc."""
    sizes = [resident_mb(child.pid) for child in multiprocessing.active_children()]
    return None if resident_mb() is None else sum(mb for mb in sizes if mb is not None)
