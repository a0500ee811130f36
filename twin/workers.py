"""Worker processes: one worker, started from a clean interpreter (``spawn``: no Bokeh, MQTT or OpenGL
thread state is forked), that ends with the process that started it however that one ends (a crash
or a ``kill -9`` leaves no worker behind holding its memory), and that is replaced at the next call
when it has died.

>>> drills = Worker()                                          # doctest: +SKIP
>>> drills.submit(run_drill, graph, spec).result()             # doctest: +SKIP
"""
from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any


def _exit_with_parent() -> None:
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()  # returns when the parent is gone: its end of the start pipe closed
        os._exit(0)


def _start(initializer: Callable[..., None] | None, *initargs: Any) -> None:
    threading.Thread(target=_exit_with_parent, name="twin-parent-watch", daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


class Worker:
    """One worker process, started at the first call. It runs ``initializer(*initargs)`` first and is
    replaced by a fresh one after ``calls_per_process`` calls (None: never). :meth:`submit` from any
    thread; a call running when the worker dies raises :class:`BrokenProcessPool` from its future."""

    def __init__(self, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = (),
                 calls_per_process: int | None = None):
        self._initializer, self._initargs, self._per_process = initializer, initargs, calls_per_process
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                                             initargs=(self._initializer, *self._initargs),
                                             max_tasks_per_child=self._per_process)
        return self._pool

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` in the worker (a worker found dead is replaced first)."""
        with self._lock:
            try:
                return self._started().submit(fn, *args)
            except BrokenProcessPool:
                self._pool.shutdown(wait=False)
                self._pool = None
                return self._started().submit(fn, *args)

    def close(self) -> None:
        """Stop the worker (a call being run is finished first, calls queued are dropped)."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
