"""Camera pictures and the server's memory: the demo park's cameras drawn ``--rounds`` times each by
the park's snapshot renderer (:class:`twin.cameras.Snapshots`, as ``/api/cameras/{code}/snapshot.png``
draws them), with the heap kept as ``twin serve`` keeps it (:mod:`twin.memory`: arenas capped, free
pages given back after each picture) and, the baseline in the same run, with glibc's defaults and no
trim. Each way runs in a process of its own, since resident memory is the whole
process's.

    .venv/bin/python bench/snapshot_memory.py [--rounds 4]

Printed per way: the resident set (VmRSS) with the park loaded, after the renderer's warm-up (build
and one picture) and after each round; the growth from the warm-up to the last round, and the ratio of
the served way's growth to the baseline's.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WAYS = ("baseline: glibc defaults, no trim", "served: arenas capped, trimmed after each picture")


def one_way(served: bool, rounds: int) -> dict:
    """This process's memory through the warm-up and ``rounds`` of every camera's picture."""
    from twin import cameras
    from twin.cache import compile_scene
    from twin.memory import cap_arenas, resident_mb

    if served:
        cap_arenas()
    else:
        cameras.release_free_memory = lambda: None
    park = compile_scene(ROOT / "scenes" / "demo")
    figures = {"loaded_mb": resident_mb()}
    renderer, ids = cameras.snapshots(park), [node.id for node in cameras.camera_nodes(park)]
    renderer.warm()
    renderer.executor.submit(lambda: None).result()  # the warm-up, queued before it, is done
    figures["warm_mb"], figures["cameras"], figures["rounds_mb"] = resident_mb(), len(ids), []
    for _ in range(rounds):
        for camera_id in ids:
            renderer.png(camera_id)
        figures["rounds_mb"].append(resident_mb())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4, help="pictures of every camera, this many times")
    parser.add_argument("--way", choices=("served", "bare"), help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.way:
        print(json.dumps(one_way(args.way == "served", args.rounds)))
        return
    growth = {}
    for way, flag in zip(WAYS, ("bare", "served")):
        done = subprocess.run([sys.executable, __file__, "--way", flag, "--rounds", str(args.rounds)],
                              capture_output=True, text=True, check=True)
        f = json.loads(done.stdout.strip().splitlines()[-1])
        growth[way] = f["rounds_mb"][-1] - f["warm_mb"]
        rounds = ", ".join(f"{mb:.0f}" for mb in f["rounds_mb"])
        print(f"{way}: park {f['loaded_mb']:.0f} MB, warmed {f['warm_mb']:.0f} MB, after each round of "
              f"{f['cameras']} pictures {rounds} MB; growth {growth[way]:+.0f} MB", flush=True)
    base, served = growth[WAYS[0]], growth[WAYS[1]]
    print(f"growth after the warm-up: {served:+.0f} MB served vs {base:+.0f} MB baseline"
          + (f" (served/baseline ×{served / base:.2f})" if base > 0 else ""))


if __name__ == "__main__":
    main()
