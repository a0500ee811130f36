"""The one server (design decision 10): the Panel app, the geometry route and the REST API, on localhost.

One :class:`~twin.park.Park` is shared by every session. Until users exist the only principal
is ``local`` with every permission, so the server refuses to listen beyond the loopback interface.

>>> serve(park)                                     # doctest: +SKIP  (blocks; Ctrl-C stops)
>>> with BackgroundServer(park) as server:          # doctest: +SKIP  (tests: a free port, a thread)
...     urllib.request.urlopen(server.url)
"""
from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Callable

import panel as pn
from bokeh.server.server import Server
from tornado.ioloop import IOLoop

from app import create_admin, create_app, create_wall, language, url_args
from live.runtime import Live
from twin.errors import InputError
from twin.networks.scene import SceneNetworks
from twin.park import Park
from twin.plans import PlanSpec
from twin.ports import LOCALHOST, free_port
from twin.wall import WallSpec
from twin.web.api import api_routes
from twin.web.diagnostics import Diagnostics
from twin.web.energy_routes import energy_routes
from twin.web.geometry import geometry_route
from twin.web.live_api import live_routes
from twin.web.network_api import network_routes
from twin.web.report_routes import report_routes
from twin.web.snapshots import snapshot_routes
from twin.web.workorder_api import workorder_routes

#: One session's page, a function or method (Panel calls those per session; default: app.create_app).
Page = Callable[[], pn.viewable.Viewable]


class AddressRefused(InputError):
    """An address beyond the loopback interface, refused while only the ``local`` principal exists."""


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def check_address(address: str) -> None:
    """Refuse any address beyond loopback while ``local`` (every permission) is the only principal."""
    if not is_loopback(address):
        raise AddressRefused(f"--address {address}: twin serves the loopback interface only until users exist")


def build_server(park: Park, port: int = 0, address: str = LOCALHOST, show: bool = False,
                 loop: IOLoop | None = None, page: Page | None = None, live: Live | None = None,
                 networks: SceneNetworks | None = None, plans: tuple[PlanSpec, ...] = (),
                 wall: WallSpec = WallSpec()) -> Server:
    """A Bokeh/Panel server for ``park`` (its ``live`` side, pipe ``networks``, emergency ``plans`` and
    large screen ``wall`` when it has them), bound but not started (``port=0``: a free port)."""
    check_address(address)
    port = port or free_port(address)
    pages: dict[str, Page] = {"/": page or (lambda: create_app(park, live=live, networks=networks, plans=plans))}
    for role in ("command", "tour", "maintenance"):
        pages[f"/{role}"] = lambda role=role: create_app(park, live=live, networks=networks, plans=plans, page=role)
    pages["/admin"] = lambda: create_admin(park, live)
    routes = [geometry_route(park.batches), *api_routes(park),
              *snapshot_routes(park, live.clock if live is not None else None), *report_routes(park)]
    if networks is not None:
        routes += network_routes(park, networks)
    if live is not None:
        pages["/diagnostics"] = lambda: Diagnostics(live, language(url_args())).panel()
        pages["/wall"] = lambda: create_wall(park, live, wall)
        routes += live_routes(park, live) + workorder_routes(park, live) + energy_routes(park, live)
    return pn.serve(pages, port=port, address=address, show=show,
                    start=False, loop=loop, verbose=False, title=park.name,
                    websocket_origin=[f"localhost:{port}", f"127.0.0.1:{port}"],
                    compress_response=True, extra_patterns=routes)


def serve(park: Park, port: int = 5006, address: str = LOCALHOST, show: bool = False,
          live: Live | None = None, networks: SceneNetworks | None = None, plans: tuple[PlanSpec, ...] = (),
          wall: WallSpec = WallSpec()) -> None:
    """Serve the twin of ``park`` until interrupted."""
    server = build_server(park, port, address, show, live=live, networks=networks, plans=plans, wall=wall)
    print(f"twin: {park.name} at http://{address}:{server.port}/ "
          f"(listening on localhost only; principal 'local' holds every permission)")
    server.start()
    server.io_loop.start()


class BackgroundServer:
    """The server on its own thread and event loop, for tests: ``with BackgroundServer(park) as s``."""

    def __init__(self, park: Park, port: int = 0, address: str = LOCALHOST, page: Page | None = None,
                 live: Live | None = None, networks: SceneNetworks | None = None, plans: tuple[PlanSpec, ...] = (),
                 wall: WallSpec = WallSpec()):
        self.park, self.address, self.page, self.live, self.networks = park, address, page, live, networks
        self.plans, self.wall = plans, wall
        self.port = port or free_port(address)
        self.url = f"http://{address}:{self.port}"
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="twin-server", daemon=True)
        self._loop: IOLoop | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        self._loop = IOLoop.current()
        try:
            server = build_server(self.park, self.port, self.address, loop=self._loop, page=self.page,
                                  live=self.live, networks=self.networks, plans=self.plans, wall=self.wall)
            server.start()
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.start()
        server.stop()
        self._loop.close(all_fds=True)

    def start(self, timeout_s: float = 30) -> BackgroundServer:
        self._thread.start()
        self._ready.wait(timeout_s)
        if self._error is not None:
            raise RuntimeError("twin server failed to start") from self._error
        return self

    def stop(self, timeout_s: float = 10) -> None:
        if self._loop is not None:
            self._loop.add_callback(self._loop.stop)
        self._thread.join(timeout_s)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
