"""The meter tree of a park: its energy meters joined by the registry's ``parent`` column (the code, or
node id, of the meter upstream), park › building › floor › tenant › circuit.

A meter's level comes from what it hosts (the registry's ``host``) and the leases:

- ``park``: no host, or a host outside every building, and no parent meter (the incomer);
- ``building``: a building; ``floor``: a storey;
- ``tenant``: a space let to a tenant (its lease, ``leases.csv``); ``unit``: any other space;
- ``circuit``: anything else — an element, a host outside the buildings under a parent meter, or the
  same host as its parent (a sub-meter of an LOD1 block, which has no storeys to host it).

A parent that is not a meter of the park is a problem line, and the meter becomes a root; parent
links that go round in a cycle are refused.

>>> tree = meter_tree(park)                       # doctest: +SKIP
>>> tree.meters["dev:EM-B01-A-104"].level, tree.meters["dev:EM-B01-A-104"].tenant  # doctest: +SKIP
('tenant', '启明光电有限公司')
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from live.state import device_type as type_of
from twin.errors import InputError
from twin.park import Node, Park

LEVELS = ("park", "building", "floor", "tenant", "unit", "circuit")


@dataclass(frozen=True)
class Meter:
    """One meter: its node id, code, name, level, parent meter, host, building and tenant."""

    id: str
    code: str
    name: str
    level: str  # one of LEVELS
    parent: str | None = None  # the upstream meter's node id
    host: str | None = None
    building: str | None = None  # the building node it sits in
    tenant: str | None = None  # tenant meters: the lease's tenant
    children: tuple[str, ...] = ()


@dataclass(frozen=True)
class MeterTree:
    """The meters by node id (parents before their children) and the problems found building it."""

    meters: dict[str, Meter]
    problems: tuple[str, ...] = ()

    @cached_property
    def roots(self) -> tuple[str, ...]:
        return tuple(m.id for m in self.meters.values() if m.parent is None)

    def bottom_up(self) -> list[str]:
        """Every meter id, children before their parent."""
        return list(reversed(self.meters))

    def of_level(self, level: str) -> list[Meter]:
        return [m for m in self.meters.values() if m.level == level]

    def mains(self, building_id: str) -> list[Meter]:
        """A building's top meters: those in it whose parent is not (usually its one main meter)."""
        return [m for m in self.meters.values() if m.building == building_id
                and (m.parent is None or self.meters[m.parent].building != building_id)]

    def buildings(self) -> list[str]:
        """The buildings that have meters, in meter order."""
        return list(dict.fromkeys(m.building for m in self.meters.values() if m.building is not None))


def meter_tree(park: Park, device_type: str = "energy_meter") -> MeterTree:
    """The tree of a park's meters of ``device_type``; raise :class:`InputError` on a cycle."""
    nodes = {n.id: n for n in park.of_kind("device") if type_of(n) == device_type}
    problems: list[str] = []
    parents: dict[str, str | None] = {}
    for node in nodes.values():
        given = str(_row(node).get("parent") or "").strip()
        parent = (given if given.startswith("dev:") else f"dev:{given}") if given else None
        if parent is not None and parent not in nodes:
            problems.append(f"{node.id}: field 'parent': no {device_type} {given!r} in the park; "
                            "counted as a root meter")
            parent = None
        parents[node.id] = parent
    order = _top_down(parents)
    children: dict[str, list[str]] = {meter_id: [] for meter_id in order}
    for meter_id in order:
        if parents[meter_id] is not None:
            children[parents[meter_id]].append(meter_id)
    meters: dict[str, Meter] = {}
    for meter_id in order:
        node, parent = nodes[meter_id], parents[meter_id]
        host = node.links.get("host")
        host = host if host in park else None
        level, building, tenant = _placed(park, host, meters[parent] if parent else None)
        meters[meter_id] = Meter(meter_id, node.code or meter_id.removeprefix("dev:"), node.name, level,
                                 parent, host, building, tenant, tuple(children[meter_id]))
    return MeterTree(meters, tuple(problems))


def _row(node: Node) -> dict:
    return node.properties.get("device", {})


def _top_down(parents: dict[str, str | None]) -> list[str]:
    """The meter ids, each after its parent; a cycle is refused naming its meters."""
    order: list[str] = []
    placed: set[str] = set()
    for start in parents:
        chain: list[str] = []
        at: str | None = start
        while at is not None and at not in placed:
            if at in chain:
                loop = chain[chain.index(at):] + [at]
                raise InputError(f"meters {' › '.join(loop)}: field 'parent' goes round in a cycle")
            chain.append(at)
            at = parents[at]
        for meter_id in reversed(chain):
            order.append(meter_id)
            placed.add(meter_id)
    return order


def _placed(park: Park, host: str | None, parent: Meter | None) -> tuple[str, str | None, str | None]:
    """(level, building, tenant) of a meter on ``host`` under ``parent``."""
    if host is None:
        return ("circuit" if parent else "park"), None, None
    node = park.get(host)
    building = park.within(host, "building")
    building_id = building.id if building is not None else None
    if parent is not None and parent.host == host:
        return "circuit", building_id, None
    if node.kind == "building":
        return "building", building_id, None
    if node.kind == "storey":
        return "floor", building_id, None
    if node.kind == "space":
        lease = node.properties.get("lease", {})
        if lease.get("status") == "let":
            return "tenant", building_id, lease.get("tenant") or node.long_name or node.name
        return "unit", building_id, None
    return ("circuit" if building_id or parent else "park"), building_id, None
