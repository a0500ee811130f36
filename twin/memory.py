"""The server's heap kept near its working size.

A long-running server's resident memory creeps up although its live objects do not: glibc gives each
thread that allocates an arena of its own (a served park runs a score of threads: MQTT clients, the
simulator's gateways, the web loop, the executors) and keeps the pages freed in them. ``twin serve``
caps the arenas before its threads start (:func:`cap_arenas`) and gives the free pages back every
:data:`TRIM_EVERY_S` (:func:`release_free_memory`). Both do nothing where the C library is not glibc.
It also reads what a process and its workers hold (:func:`resident_mb`, :func:`proportional_mb`,
:func:`workers_mb`; None where there is no /proc).
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


def _proc_mb(pid: int | None, name: str, key: str) -> float | None:
    """The ``key:`` line (kB) of ``/proc/<pid>/<name>`` (default: this process), MB; None where there is
    no /proc, no such process or no such line."""
    try:
        text = Path(f"/proc/{pid or 'self'}/{name}").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) / 1024 for line in text.splitlines() if line.startswith(f"{key}:")), None)


def resident_mb(pid: int | None = None) -> float | None:
    """The resident set (VmRSS) of process ``pid`` (default: this one), MB: shared libraries counted whole."""
    return _proc_mb(pid, "status", "VmRSS")


def proportional_mb(pid: int | None = None) -> float | None:
    """The proportional set (Pss) of process ``pid`` (default: this one), MB: its own pages and its share
    of those it shares (libraries mapped by the server and its workers alike), so that the figures of
    related processes add up."""
    return _proc_mb(pid, "smaps_rollup", "Pss")


def worker_pids() -> list[int]:
    """This process's worker processes (its ``multiprocessing`` children: the camera pictures', the drills')."""
    return [child.pid for child in multiprocessing.active_children()]


def workers_mb() -> float | None:
    """The resident sets (VmRSS) of this process's worker processes, MB together; None where there is no /proc."""
    if resident_mb() is None:
        return None
    return sum(mb for mb in map(resident_mb, worker_pids()) if mb is not None)
