"""Drills run in a worker process, so live ingest and every app session stay responsive meanwhile.

One worker per server process (:class:`twin.workers.Worker`: a clean interpreter, gone when the
server goes, replaced when it dies). The graph travels pickled; occupants and hazard are made there.

>>> future = submit(graph, DrillSpec(origin="ifc:B01:3S1uRPwwr5KO3XF22Hrngq"))  # doctest: +SKIP
>>> future.result().total_time_s                                             # doctest: +SKIP
"""
from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass

from twin.evacuation import EvacuationGraph, EvacuationResult, evacuate, hazard, place_occupants
from twin.evacuation.occupants import DEFAULT_DENSITY_PPM2, counts_by_density, counts_by_total
from twin.evacuation.outdoor import Outdoors
from twin.workers import Worker

INCIDENTS = ("fire", "gas", *hazard.PLACED_KINDS)


@dataclass(frozen=True)
class GasLeak:
    """An outdoor gas release and the wind that carries it (the arguments of :func:`hazard.gas`)."""

    source_xy: tuple[float, float]  # park frame, m
    rate_g_s: float = 100.0
    wind_m_s: float = 2.0
    wind_from_deg: float = 0.0  # where the wind comes from, ° clockwise from north
    stability: str = "D"  # Pasquill–Gifford class
    threshold_mg_m3: float = 30.0  # untenable from this concentration (about chlorine's IDLH)


@dataclass(frozen=True)
class DrillSpec:
    """What a drill assumes: the incident, where it starts, who is in the buildings, which model runs.

    ``total_occupants`` set: that many persons shared by area; else ``density_ppm2`` in every space;
    ``counted`` spaces (space id → persons, from live people counters) hold their count instead.
    Who leaves: the incident's building (a gas leak: every building the plume reaches), or
    everyone with ``whole_park``.
    """

    origin: str  # the space the incident starts in (node id, GlobalId or unique name); a gas leak: a label
    incident: str = "fire"
    growth: str = "medium"  # t² fire growth: slow, medium, fast, ultrafast
    density_ppm2: float = DEFAULT_DENSITY_PPM2
    total_occupants: int | None = None
    population: str = "office"
    premovement_s: tuple[float, float] = (30.0, 90.0)
    model: str = "flow"
    whole_park: bool = False  # everyone in every building, not only the incident's building
    vacant: frozenset[str] = frozenset()  # spaces nobody is in (vacant units)
    counted: tuple[tuple[str, int], ...] = ()  # (space id, persons) counted live
    gas: GasLeak | None = None  # the release, for a gas leak


def run_drill(graph: EvacuationGraph, spec: DrillSpec, ways: Outdoors | None = None) -> EvacuationResult:
    """The drill itself (in whatever process calls it); with ``ways``, people walk on to the assembly points."""
    if spec.incident not in INCIDENTS:
        raise ValueError(f"incident {spec.incident!r}: not one of {', '.join(INCIDENTS)}")
    found = drill_hazard(graph, spec)
    within = None if spec.whole_park else _buildings_at_risk(graph, spec, found)
    counts = (counts_by_total(graph, spec.total_occupants, within, spec.vacant) if spec.total_occupants is not None
              else counts_by_density(graph, spec.density_ppm2, within, spec.vacant))
    counts.update((i, n) for i, n in ((graph.place(space), n) for space, n in spec.counted) if i in counts)
    occupants = place_occupants(graph, counts, population=spec.population, premovement_s=spec.premovement_s)
    return evacuate(graph, occupants, model=spec.model, hazard=found, outdoors=ways)


def drill_hazard(graph: EvacuationGraph, spec: DrillSpec) -> hazard.Hazard:
    """The drill's incident over the graph."""
    if spec.incident == "gas":
        if spec.gas is None:
            raise ValueError("a gas leak drill needs its release and wind (DrillSpec.gas)")
        return hazard.gas(graph, **vars(spec.gas))
    origin = graph.place(spec.origin)
    if spec.incident == "fire":
        return hazard.fire(graph, origin, growth=spec.growth)
    return hazard.placed(graph, spec.incident, origin)


def _buildings_at_risk(graph: EvacuationGraph, spec: DrillSpec, found: hazard.Hazard) -> set[str | None]:
    """The buildings that leave: the origin's, or every one with a place the gas reaches."""
    if spec.incident == "gas":
        return {graph.places[graph.place_index[p]].building for p in found.untenable_s}
    return {graph.places[graph.place(spec.origin)].building}


#: The process's one drill worker (started at the first drill).
drill_worker = Worker()


def submit(graph: EvacuationGraph, spec: DrillSpec, ways: Outdoors | None = None) -> Future[EvacuationResult]:
    """Run a drill in the worker; its result (or error) arrives on the future."""
    return drill_worker.submit(run_drill, graph, spec, ways)
