"""Time a cold scene compile (cache cleared) against a load from the compile cache.

    python bench/compile.py SCENE_OR_IFC [--repeat 3] [--cache-dir DIR]

Each phase runs in a fresh process, so its peak memory (``ru_maxrss``) is its own; times are taken
inside that process around :func:`twin.cache.compile_scene` (imports excluded, shown apart).
Goal: the cached load ≥ 20× faster than the cold compile, on a park of at least 50 buildings
(``twin generate /tmp/park50 --park --buildings 50``). The cache goes to a temporary folder
unless ``--cache-dir`` is given; the cold phase empties it first.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def phase(scene: Path, cache_dir: Path) -> dict:
    """One compile in this process: seconds, whether the cache was hit, peak RSS (MB)."""
    start = time.perf_counter()
    import twin.cache as cache
    imported = time.perf_counter()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    built = []
    load_park = cache.load_park
    cache.load_park = lambda *a, **k: built.append(1) or load_park(*a, **k)
    park = cache.compile_scene(scene, cache_dir=cache_dir)
    done = time.perf_counter()
    key = cache.cache_key(scene)
    return {"seconds": done - imported, "import_s": imported - start, "hit": not built,
            "key": key, "key_s": time.perf_counter() - done,
            "nodes": len(park.nodes), "batches": len(park.batches),
            "payload_mb": sum(len(b.payload) for b in park.batches) / 1e6,
            "rss_after_import_mb": rss_before,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "entry_mb": cache.entry_path(scene, cache_dir).stat().st_size / 1e6}


def run_phase(scene: Path, cache_dir: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, str(scene), "--cache-dir", str(cache_dir), "--phase"],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scene", type=Path, help="a scene folder, its scene.toml, or an .ifc file")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--cache-dir", type=Path)
    ap.add_argument("--phase", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        print(json.dumps(phase(args.scene, args.cache_dir)))
        return
    from twin.cache import scene_sources

    cache_dir = args.cache_dir or Path(tempfile.mkdtemp(prefix="twin-bench-cache-"))
    sources_mb = sum(p.stat().st_size for p in scene_sources(args.scene) if p.is_file()) / 1e6
    print(f"scene: {args.scene} (sources {sources_mb:.1f} MB), cache: {cache_dir}")
    cold, hot = [], []
    try:
        for i in range(args.repeat):
            shutil.rmtree(cache_dir, ignore_errors=True)
            cold.append(run_phase(args.scene, cache_dir))
            hot.append(run_phase(args.scene, cache_dir))
            c, h = cold[-1], hot[-1]
            if c["hit"] or not h["hit"]:
                sys.exit(f"run {i + 1}: the cold phase hit the cache or the cached phase missed it "
                         f"(keys {c['key']}, {h['key']}: sources or code edited meanwhile?)")
            print(f"run {i + 1}: cold {c['seconds']:.2f} s (peak RSS {c['peak_rss_mb']:.0f} MB), "
                  f"cached {h['seconds']:.3f} s (of which the key {h['key_s']:.3f} s; "
                  f"peak RSS {h['peak_rss_mb']:.0f} MB), "
                  f"ratio {c['seconds'] / h['seconds']:.0f}×")
    finally:
        if args.cache_dir is None:
            shutil.rmtree(cache_dir, ignore_errors=True)
    c, h = cold[0], hot[0]
    print(f"park: {c['nodes']} nodes, {c['batches']} batches, {c['payload_mb']:.1f} MB of batch payload; "
          f"cache entry {c['entry_mb']:.1f} MB")
    runs = cold + hot
    print(f"imports (each process, not timed above): {statistics.median(r['import_s'] for r in runs):.2f} s, "
          f"RSS after imports {statistics.median(r['rss_after_import_mb'] for r in runs):.0f} MB")
    best_cold, best_hot = min(r["seconds"] for r in cold), min(r["seconds"] for r in hot)
    print(f"best: cold {best_cold:.2f} s, cached {best_hot:.3f} s, ratio {best_cold / best_hot:.0f}× "
          f"(goal ≥ 20×); peak RSS cold {max(r['peak_rss_mb'] for r in cold):.0f} MB, "
          f"cached {max(r['peak_rss_mb'] for r in hot):.0f} MB")


if __name__ == "__main__":
    main()
