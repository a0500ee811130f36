"""Camera pictures and memory: the demo park's cameras drawn ``--rounds`` times each in the picture
worker process (:mod:`twin.picture_renderer`, as ``/api/cameras/{code}/snapshot.png`` draws them), the
served way (a fresh worker every :data:`~twin.picture_renderer.PICTURES_PER_PROCESS` pictures) against,
in the same run, the baseline of one worker kept for every picture.

    .venv/bin/python bench/snapshot_memory.py [--rounds 4]

Printed per way: the worker's resident set (VmRSS) after its warm-up picture and after each round, the
worker's growth from the warm-up to the last round, and the server process's growth over all the
pictures (the pictures are drawn elsewhere, so it should not grow); then the ratio of the two ways'
worker growths.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WAYS = ("baseline: one worker for every picture", "served: a fresh worker every {n} pictures")


def one_way(park, per_process: int, rounds: int) -> dict:
    """The worker's and this process's memory through the warm-up and ``rounds`` of every camera's picture."""
    from twin.cameras import Snapshots, seen_meshes
    from twin.memory import resident_mb, workers_mb
    from twin.picture_renderer import PictureRenderer

    shots = Snapshots(park)
    ids = list(shots.cameras)
    renderer = PictureRenderer(seen_meshes(park.batches), warm_shot=shots.shot(ids[0]),
                               pictures_per_process=per_process)
    try:
        renderer.submit(shots.shot(ids[0])).result()
        figures = {"warm_mb": workers_mb(), "server_mb": resident_mb(), "rounds_mb": [], "cameras": len(ids)}
        for _ in range(rounds):
            for camera_id in ids:
                renderer.submit(shots.shot(camera_id)).result()
            figures["rounds_mb"].append(workers_mb())
        figures["server_growth_mb"] = resident_mb() - figures["server_mb"]
    finally:
        renderer.close()
    return figures


def main() -> None:
    from twin.cache import compile_scene
    from twin.memory import cap_arenas
    from twin.picture_renderer import PICTURES_PER_PROCESS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4, help="pictures of every camera, this many times")
    args = parser.parse_args()
    cap_arenas()  # as twin serve does
    park = compile_scene(ROOT / "scenes" / "demo")
    growth = {}
    for way, per_process in zip(WAYS, (10**9, PICTURES_PER_PROCESS)):
        way = way.format(n=per_process)
        f = one_way(park, per_process, args.rounds)
        growth[way] = f["rounds_mb"][-1] - f["warm_mb"]
        rounds = ", ".join(f"{mb:.0f}" for mb in f["rounds_mb"])
        print(f"{way}: worker warmed {f['warm_mb']:.0f} MB, after each round of {f['cameras']} pictures {rounds} MB; "
              f"worker growth {growth[way]:+.0f} MB; server growth {f['server_growth_mb']:+.0f} MB", flush=True)
    base, served = growth.values()
    print(f"worker growth after the warm-up: {served:+.0f} MB served vs {base:+.0f} MB baseline"
          + (f" (served/baseline ×{served / base:.2f})" if base > 0 else ""))


if __name__ == "__main__":
    main()
