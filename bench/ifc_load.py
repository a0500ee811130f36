"""Time the full IFC import against ifcopenshell's bare geometry iterator on the same file.

    python bench/ifc_load.py FILE.ifc [--repeat 3]

Both runs open the file and use the same settings and thread count, in one process, alternating,
so machine noise hits both. Prints each run, the best of each, and the ratio import / bare
(goal: ≤ 1.25 on a file of at least 50 MB; make one with ``twin generate big.ifc --storeys 12 --copies K``).
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ifc.geometry import iterator, thread_count  # noqa: E402
from ifc.importer import import_ifc  # noqa: E402
from ifc.reader import open_ifc  # noqa: E402


def bare_iterator(path: Path) -> int:
    """ifcopenshell alone: open, then iterate every shape and touch its buffers."""
    it = iterator(open_ifc(path))
    n = 0
    if it.initialize():
        while True:
            geometry = it.get().geometry
            n += len(geometry.verts_buffer) > 0 and len(geometry.faces_buffer) > 0
            if not it.next():
                break
    return n


def full_import(path: Path) -> int:
    """twin: open, spatial tree, tessellation, links, render batches."""
    return len(import_ifc(path))


def timed(fn, path: Path) -> float:
    gc.collect()
    start = time.perf_counter()
    fn(path)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    size_mb = args.file.stat().st_size / 1e6
    print(f"file: {args.file} ({size_mb:.1f} MB), threads: {thread_count()}")
    bare, full = [], []
    for i in range(args.repeat):
        bare.append(timed(bare_iterator, args.file))
        full.append(timed(full_import, args.file))
        print(f"run {i + 1}: bare iterator {bare[-1]:.2f} s, full import {full[-1]:.2f} s, "
              f"ratio {full[-1] / bare[-1]:.3f}")
    ratios = [f / b for f, b in zip(full, bare)]
    print(f"best: bare iterator {min(bare):.2f} s, full import {min(full):.2f} s, "
          f"ratio {min(full) / min(bare):.3f} (median of per-run ratios {statistics.median(ratios):.3f}, "
          f"range {min(ratios):.3f}–{max(ratios):.3f})")


if __name__ == "__main__":
    main()
