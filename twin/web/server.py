"""The one server (design decision 10): the Panel app, the geometry route and the REST API, on localhost.

One :class:`~twin.park.Park` is shared by every session. Served with users (a :class:`~twin.web.auth.SignIn`),
every page and route but ``/healthz`` needs a sign-in and any address may be served, over TLS when given.
Without users the only principal is ``local`` with every permission, so the server refuses to listen
beyond the loopback interface.

>>> serve(park)                                     # doctest: +SKIP  (blocks; Ctrl-C stops)
>>> with BackgroundServer(park) as server:          # doctest: +SKIP  (tests: a free port, a thread)
...     urllib.request.urlopen(server.url)
"""
from __future__ import annotations

import asyncio
import ipaddress
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import panel as pn
from bokeh.server.server import Server
from tornado.ioloop import IOLoop, PeriodicCallback

from app import create_admin, create_app, create_wall
from live.runtime import Live
from twin.cameras import snapshots
from twin.errors import InputError
from twin.memory import TRIM_EVERY_S, release_free_memory
from twin.networks.scene import SceneNetworks
from twin.park import Park
from twin.plans import PlanSpec
from twin.ports import LOCALHOST, free_port
from twin.wall import WallSpec
from twin.web.api import api_routes
from twin.web.audit_api import audit_routes
from twin.web.auth import COOKIE, Route, SignIn, gated
from twin.web.energy_routes import energy_routes
from twin.web.geometry import geometry_route
from twin.web.health import HEALTH_PATH, health_routes
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


def check_address(address: str, users: bool = False) -> None:
    """Refuse any address beyond loopback while ``local`` (every permission) is the only principal
    (``users``: people sign in, so any address will do)."""
    if not users and not is_loopback(address):
        raise AddressRefused(f"--address {address}: twin serves the loopback interface only until users exist "
                             "(--users FILE)")


@dataclass(frozen=True)
class Tls:
    """A PEM certificate (chain) and its private key: the server speaks https:// and wss://."""

    cert: Path
    key: Path


def check_tls(cert: Path | None, key: Path | None) -> Tls | None:
    """The files of ``--tls-cert`` and ``--tls-key`` once they load together; None without them."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise InputError("--tls-cert and --tls-key: give both, a PEM certificate and its private key")
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        try:
            path.read_bytes()
        except OSError as exc:
            raise InputError(f"{flag} {path}: {exc.strerror}") from None
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise InputError(f"--tls-cert {cert}, --tls-key {key}: not a PEM certificate and its private key "
                         f"({exc.reason or exc})") from None
    return Tls(cert, key)


def park_pages(park: Park, live: Live | None = None, networks: SceneNetworks | None = None,
               plans: tuple[PlanSpec, ...] = (), wall: WallSpec = WallSpec()) -> dict[str, Page]:
    """Every page of the server: the role pages, the administrator's, and the wall with a live side."""
    pages: dict[str, Page] = {"/": lambda: create_app(park, live=live, networks=networks, plans=plans)}
    for role in ("command", "tour", "maintenance"):
        pages[f"/{role}"] = lambda role=role: create_app(park, live=live, networks=networks, plans=plans, page=role)
    pages["/admin"] = lambda: create_admin(park, live)
    if live is not None:
        pages["/wall"] = lambda: create_wall(park, live, wall)
    return pages


def park_routes(park: Park, live: Live | None = None, networks: SceneNetworks | None = None) -> list[Route]:
    """Every HTTP route of the server (tornado patterns for ``extra_patterns``), before sign-in gates them."""
    routes = [*health_routes(park, live), geometry_route(park.batches), *api_routes(park),
              *snapshot_routes(park, live.clock if live is not None else None), *report_routes(park),
              *audit_routes(park)]
    if networks is not None:
        routes += network_routes(park, networks)
    if live is not None:
        routes += live_routes(park, live) + workorder_routes(park, live) + energy_routes(park, live)
    return routes


def build_server(park: Park, port: int = 0, address: str = LOCALHOST, show: bool = False,
                 loop: IOLoop | None = None, page: Page | None = None, live: Live | None = None,
                 networks: SceneNetworks | None = None, plans: tuple[PlanSpec, ...] = (),
                 wall: WallSpec = WallSpec(), sign_in: SignIn | None = None, tls: Tls | None = None) -> Server:
    """A Bokeh/Panel server for ``park`` (its ``live`` side, pipe ``networks``, emergency ``plans`` and
    large screen ``wall`` when it has them), bound but not started (``port=0``: a free port); with
    ``sign_in``, for its users only, over ``tls`` when given."""
    check_address(address, users=sign_in is not None)
    port = port or free_port(address)
    pages = park_pages(park, live, networks, plans, wall)
    if page is not None:
        pages["/"] = page
    routes = park_routes(park, live, networks)
    origins, options = [f"localhost:{port}", f"127.0.0.1:{port}"], dict[str, object]()
    if sign_in is not None:
        pages = {path: sign_in.page(make) for path, make in pages.items()}
        routes = [route if route[0] == HEALTH_PATH else gated(route) for route in routes]
        # the websocket needs a signed-in session (cookie SameSite=Strict), so any host name will do;
        # the session token stays out of what Bokeh hands the page
        origins = [f"*:{port}"]
        options = {"auth_provider": sign_in, "exclude_cookies": [COOKIE],
                   "exclude_headers": ["Cookie", "Authorization"]}
    if tls is not None:
        options |= {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)}
    server = pn.serve(pages, port=port, address=address, show=show,
                      start=False, loop=loop, verbose=False, title=park.name,
                      websocket_origin=origins, compress_response=True, extra_patterns=routes, **options)
    server.io_loop.add_callback(PeriodicCallback(release_free_memory, TRIM_EVERY_S * 1000).start)  # runs on it
    return server


def serve(park: Park, port: int = 5006, address: str = LOCALHOST, show: bool = False,
          live: Live | None = None, networks: SceneNetworks | None = None, plans: tuple[PlanSpec, ...] = (),
          wall: WallSpec = WallSpec(), sign_in: SignIn | None = None, tls: Tls | None = None) -> None:
    """Serve the twin of ``park`` until interrupted."""
    server = build_server(park, port, address, show, live=live, networks=networks, plans=plans, wall=wall,
                          sign_in=sign_in, tls=tls)
    who = (f"users of {sign_in.book.path} sign in; sessions end after {sign_in.idle_timeout_min:g} min unused"
           if sign_in is not None else "listening on localhost only; principal 'local' holds every permission")
    print(f"twin: {park.name} at {'https' if tls else 'http'}://{address}:{server.port}/ ({who})")
    if live is not None:
        snapshots(park).warm()  # alarms show camera pictures: ready the renderer before the first one
    server.start()
    server.io_loop.start()


class BackgroundServer:
    """The server on its own thread and event loop, for tests: ``with BackgroundServer(park) as s``."""

    def __init__(self, park: Park, port: int = 0, address: str = LOCALHOST, page: Page | None = None,
                 live: Live | None = None, networks: SceneNetworks | None = None, plans: tuple[PlanSpec, ...] = (),
                 wall: WallSpec = WallSpec(), sign_in: SignIn | None = None, tls: Tls | None = None):
        self.park, self.address, self.page, self.live, self.networks = park, address, page, live, networks
        self.plans, self.wall, self.sign_in, self.tls = plans, wall, sign_in, tls
        self.port = port or free_port(address)
        self.url = f"{'https' if tls else 'http'}://{address}:{self.port}"
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="twin-server", daemon=True)
        self._loop: IOLoop | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        self._loop = IOLoop.current()
        try:
            server = build_server(self.park, self.port, self.address, loop=self._loop, page=self.page,
                                  live=self.live, networks=self.networks, plans=self.plans, wall=self.wall,
                                  sign_in=self.sign_in, tls=self.tls)
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
