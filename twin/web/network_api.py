"""The pipe-network REST API (issue 6): the same answers as ``twin network … --json``.

- ``GET /api/networks``: ``[{"name", "utility", "pressurised", "pipes", "nodes", "valves"}]``
- ``GET /api/networks/{name}/isolate?burst=PIPE_ID&failed=VALVE_ID&failed=…``: the isolation result
  (``valves_to_close``, ``isolated_pipes``, ``isolated_nodes``, ``affected_nodes``, and
  ``affected_buildings`` where known), ids as in the scene; a pipe or valve may be given by its code;
  ``at=EASTING,NORTHING`` (the scene's CRS) instead of ``burst`` takes the pipe nearest that point
- ``GET /api/networks/{name}/trace?start=ID&direction=downstream|upstream|connected``: the trace
  (``pipes``, ``nodes`` and ``outfalls``, ``sources`` or ``buildings`` by direction), as ``twin network trace --json``
- ``GET /api/networks/check``: the topology check of every network (``network=NAME`` for one), as
  ``twin network check --json``

Every request passes the access layer (``network.read``, ``network.isolate``, ``network.trace``,
``network.check``) and is audited; a bad parameter is a 400 naming it, an unknown network a 404.
"""
from __future__ import annotations

from typing import Any

from tornado.web import RequestHandler

from twin.errors import InputError
from twin.networks.check import check
from twin.networks.isolate import isolate
from twin.networks.model import PipeNetwork
from twin.networks.scene import SceneNetworks
from twin.networks.trace import trace
from twin.park import Park
from twin.web.api import ApiError, ApiHandler


class NetworkHandler(ApiHandler):
    """A route over the park's pipe networks."""

    def initialize(self, park: Park, networks: SceneNetworks) -> None:  # type: ignore[override]
        self.park, self.networks = park, networks

    def network(self, name: str) -> PipeNetwork:
        if name not in self.networks.networks:
            known = ", ".join(self.networks.networks) or "none"
            raise ApiError(404, f"no network {name!r} in park {self.park.name!r} (networks: {known})")
        return self.networks.networks[name]

    def target(self, *args: str) -> str:
        return f"network/{'/'.join(args) or 'all'}" + (f"?{self.request.query}" if self.request.query else "")

    def get(self, *args: str) -> None:
        """As :class:`ApiHandler`, with the analyses' :class:`InputError` answered as a 400."""
        self.checked(*args)
        try:
            answer = self.answer(*args)
        except InputError as exc:
            raise ApiError(400, str(exc)) from exc
        self.send_json(answer)


def network_record(net: PipeNetwork) -> dict[str, Any]:
    """What ``/api/networks`` says of one network."""
    return {"name": net.name, "utility": net.utility, "pressurised": net.pressurised, "pipes": len(net.links),
            "nodes": len(net.nodes), "valves": int(net.valves["valve_id"].nunique())}


class NetworksHandler(NetworkHandler):
    permission = "network.read"

    def answer(self) -> list[dict[str, Any]]:
        return [network_record(net) for net in self.networks.networks.values()]


class IsolateHandler(NetworkHandler):
    permission = "network.isolate"

    def answer(self, name: str) -> dict[str, Any]:
        net = self.network(name)
        if not net.pressurised:
            raise ApiError(400, f"network {name!r} ({net.utility}) is not pressurised: trace it instead of isolating")
        return isolate(net, self.burst(net), self.get_query_arguments("failed")).to_json()

    def burst(self, net: PipeNetwork) -> str:
        """``burst`` (a pipe id or code), or the pipe nearest ``at=E,N`` (the scene's CRS)."""
        burst, at = self.get_query_argument("burst", ""), self.get_query_argument("at", "")
        if bool(burst) == bool(at):
            raise ApiError(400, "burst: give burst=PIPE_ID or at=EASTING,NORTHING (one of them)")
        if burst:
            return burst
        try:
            easting, northing = (float(v) for v in at.split(","))
        except ValueError:
            raise ApiError(400, f"at: must be EASTING,NORTHING in the scene's CRS, not {at!r}") from None
        return net.nearest_link(easting - float(self.park.origin_m[0]), northing - float(self.park.origin_m[1]))


class TraceHandler(NetworkHandler):
    permission = "network.trace"

    def answer(self, name: str) -> dict[str, Any]:
        start = self.get_query_argument("start", "")
        if not start:
            raise ApiError(400, "start: missing (a pipe or node id or code)")
        return trace(self.network(name), start, self.get_query_argument("direction", None) or None).to_json()


class CheckHandler(NetworkHandler):
    permission = "network.check"

    def answer(self) -> dict[str, Any]:
        return check(self.networks, network=self.get_query_argument("network", None) or None).to_json()


def network_routes(park: Park, networks: SceneNetworks) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The tornado routes of the pipe-network API."""
    return [(route, handler, {"park": park, "networks": networks}) for route, handler in (
        (r"/api/networks", NetworksHandler), (r"/api/networks/check", CheckHandler),
        (r"/api/networks/([^/]+)/isolate", IsolateHandler), (r"/api/networks/([^/]+)/trace", TraceHandler))]
