"""Evacuation of a park's buildings: the graph from BIM, occupants, hazards, two models, results.

>>> from twin.evacuation import evacuate  # evacuate(graph, occupants, model="flow") -> EvacuationResult
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twin.evacuation.flow import ExitPlan, run_flow
from twin.evacuation.graph import EvacuationGraph, build_graph
from twin.evacuation.occupants import Occupants, place_occupants
from twin.evacuation.outdoor import Outdoors, walk_to_assembly
from twin.evacuation.result import EvacuationResult, summarise

AVOID_LEAD_S = 60.0  #: routes avoid a place from this long before it becomes untenable
MODELS = ("flow", "agent")

__all__ = ["EvacuationGraph", "EvacuationResult", "ExitPlan", "Occupants", "build_graph", "evacuate",
           "place_occupants"]


def evacuate(graph: EvacuationGraph, occupants: Occupants, model: str = "flow", plan: ExitPlan | None = None,
             hazard: Any = None, progress: Callable[[float], None] | None = None,
             outdoors: Outdoors | None = None) -> EvacuationResult:
    """Everyone's way out with one of :data:`MODELS`; routes avoid what ``hazard`` makes untenable;
    with ``outdoors``, everyone out walks on to their exit's assembly point."""
    plan = plan or ExitPlan()
    if hazard is not None:
        plan.avoid = {graph.place_index[pid]: max(0.0, t - AVOID_LEAD_S)
                      for pid, t in hazard.untenable_s.items() if pid in graph.place_index}
    if model == "flow":
        log = run_flow(graph, occupants, plan, progress)
    elif model == "agent":
        from twin.evacuation.agents import run_agents
        log = run_agents(graph, occupants, plan, progress)
    else:
        raise ValueError(f"model {model!r}: not one of {', '.join(MODELS)}")
    result = summarise(graph, occupants, log, model, hazard)
    if outdoors is not None:
        result.assembled_s, result.assembly = walk_to_assembly(graph, log.passes, occupants.speed_m_s,
                                                               result.track_log, outdoors)
    return result
