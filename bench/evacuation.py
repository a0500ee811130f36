"""Evacuation speed (issue 7, item 9): the flow model on a 10-storey office with 5,000 occupants,
the agent model with 1,000.

    .venv/bin/python bench/evacuation.py [--storeys 10] [--occupants 5000] [--agents 1000]
                                         [--repeats 5] [--out bench/out/evacuation]

The building is the project's synthetic office (``ifc.generate.write_office``, seed 2026): rooms
along a corridor on every floor, one stairwell, one lobby exit. It is written to a temporary
folder, imported and turned into an evacuation graph once (timed, not judged). Occupants are shared
among the spaces by area (:func:`counts_by_total`), premovement 30–90 s, the "office" population.

- *flow*: :func:`twin.evacuation.evacuate` with the SFPE flow model, ``--repeats`` runs after one
  warm-up; judged on the median wall time (goal ≤ 1 s).
- *agent*: the same building with ``--agents`` occupants and the jupedsim agent model, one run;
  judged on simulated evacuation time ÷ wall time (goal ≥ 10).

The baseline of both lines is real time in the same run: the evacuation's own simulated duration,
so each line prints how many times faster than real time the model ran. Exit 1 when a goal is
missed. Results also go to ``OUT/result.json``.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ifc.generate import write_office  # noqa: E402
from ifc.importer import import_ifc  # noqa: E402
from twin.evacuation import build_graph, evacuate, place_occupants  # noqa: E402
from twin.evacuation.occupants import counts_by_total  # noqa: E402

FLOW_GOAL_S = 1.0
AGENT_GOAL_REAL_TIME = 10.0


def building(storeys: int, folder: Path):
    """The graph of a synthetic office, and the seconds spent writing, importing and building it."""
    start = time.perf_counter()
    park = import_ifc(write_office(folder / f"office-{storeys}.ifc", storeys=storeys))
    graph = build_graph(park)
    return graph, time.perf_counter() - start


def timed(graph, occupants, model: str) -> tuple[float, object]:
    start = time.perf_counter()
    result = evacuate(graph, occupants, model)
    return time.perf_counter() - start, result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--storeys", type=int, default=10)
    ap.add_argument("--occupants", type=int, default=5000)
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("bench/out/evacuation"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        graph, setup_s = building(args.storeys, Path(folder))
    spaces = len(graph.spaces())
    print(f"{args.storeys}-storey office: {spaces} spaces, {len(graph.openings)} openings, "
          f"{len(graph.exits)} exits; written, imported and graphed in {setup_s:.1f} s")

    people = place_occupants(graph, counts_by_total(graph, args.occupants), "office", premovement_s=(30, 90))
    timed(graph, people, "flow")  # warm-up
    runs = [timed(graph, people, "flow") for _ in range(args.repeats)]
    flow_s = statistics.median(t for t, _ in runs)
    flow = runs[0][1]
    print(f"flow  {args.occupants} occupants: median {flow_s * 1000:.0f} ms (goal ≤ {FLOW_GOAL_S:.0f} s) "
          f"{'✓' if flow_s <= FLOW_GOAL_S else '✗'}; evacuation {flow.total_time_s:.0f} s simulated, "
          f"{flow.total_time_s / flow_s:.0f}× real time")
    report = {"machine": platform.platform(), "storeys": args.storeys, "spaces": spaces, "setup_s": setup_s,
              "flow": {"occupants": args.occupants, "median_s": flow_s, "runs_s": [t for t, _ in runs],
                       "evacuation_s": flow.total_time_s, "real_time_ratio": flow.total_time_s / flow_s}}
    ok = flow_s <= FLOW_GOAL_S

    agents = place_occupants(graph, counts_by_total(graph, args.agents), "office", premovement_s=(30, 90))
    agent_s, agent = timed(graph, agents, "agent")
    ratio = agent.total_time_s / agent_s
    print(f"agent {args.agents} agents: {agent_s:.1f} s wall for {agent.total_time_s:.0f} s simulated = "
          f"{ratio:.1f}× real time (goal ≥ {AGENT_GOAL_REAL_TIME:.0f}×) {'✓' if ratio >= AGENT_GOAL_REAL_TIME else '✗'}"
          f"; {agent.evacuated} of {args.agents} out")
    report["agent"] = {"agents": args.agents, "wall_s": agent_s, "evacuation_s": agent.total_time_s,
                       "real_time_ratio": ratio, "evacuated": agent.evacuated}
    ok = ok and ratio >= AGENT_GOAL_REAL_TIME
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "result.json").write_text(json.dumps(report, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
