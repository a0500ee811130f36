"""Sign-in for a server with users (issue 9): the login page, session cookies, HTTP Basic and bearer tokens.

:class:`SignIn` is the Bokeh auth provider of such a server: its ``get_user`` admits the app's pages and
their websockets on a session cookie and sends everyone else to ``/login``; :func:`gated` puts every REST
route behind :meth:`SignIn.authenticate` (the cookie, ``Authorization: Bearer <session token>`` or
``Authorization: Basic``; none valid answers 401). Either way the request carries its sign-in as
``twin_sign_in``, which :func:`twin.web.access.current_principal` reads, for the request and for the app
session it opens. A session unused for the idle timeout ends; an open page then goes back to ``/login``.
Every password tried (form or Basic) and every sign-out is audited.

``POST /login`` with ``Accept: application/json`` answers ``{"token", "name", "role", "idle_timeout_min"}``
instead of the cookie and redirect, for scripts that then send ``Authorization: Bearer <token>``.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from html import escape
from pathlib import Path
from string import Template
from typing import Any

import panel as pn
from bokeh.server.auth_provider import AuthProvider
from tornado.ioloop import IOLoop
from tornado.web import RequestHandler

from live.clock import Clock, SystemClock
from twin.errors import InputError
from twin.users import FAILURE_WINDOW, LOCK_TIME, MAX_FAILURES, UserBook
from twin.web.access import Principal, Unauthenticated, audit
from twin.web.sessions import Sessions

COOKIE = "twin_session"
LOGIN_URL, LOGOUT_URL = "/login", "/logout"
REALM = 'Basic realm="twin"'
LOGIN_PAGE = Template((Path(__file__).with_name("login.html")).read_text(encoding="utf-8"))
FAILED = (f"用户名或密码错误，或账户已锁定（{MAX_FAILURES} 次错误锁定 {LOCK_TIME.seconds // 60} 分钟）· "
          f"Wrong user name or password, or the account is locked ({MAX_FAILURES} failures within "
          f"{FAILURE_WINDOW.seconds // 60} minutes lock it for {LOCK_TIME.seconds // 60})")

Route = tuple[str, type[RequestHandler], dict[str, Any]]


@dataclass(frozen=True)
class SignedIn:
    """A request's sign-in: HTTP Basic (``principal``), or a session (``token``) checked again at each use."""

    principal: Principal
    sessions: Sessions | None = None
    token: str = ""

    def __call__(self) -> Principal:
        """The principal, while the session lasts (:class:`Unauthenticated` after)."""
        return self.principal if self.sessions is None else self.sessions.principal(self.token)

    def alive(self) -> bool:
        return self.sessions is None or self.sessions.alive(self.token)


def basic_credentials(value: str) -> tuple[str, str]:
    """User name and password of an ``Authorization: Basic`` value."""
    try:
        name, colon, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        colon = ""
    if not colon:
        raise Unauthenticated("Authorization: malformed Basic credentials")
    return name, password


def safe_next(path: str) -> str:
    """Where to go after signing in: a path on this server, never another site."""
    return path if path.startswith("/") and not path.startswith(("//", "/\\")) else "/"


class SignIn(AuthProvider):
    """The users of ``book`` signing in; sessions end after ``idle_timeout_min`` unused (``clock``);
    ``secure``: the cookie only over TLS; ``watch_s``: how often an open page checks its session."""

    def __init__(self, book: UserBook, idle_timeout_min: float = 15, secure: bool = False,
                 clock: Clock = SystemClock(), watch_s: float = 30):
        self.book, self.secure, self.watch_s = book, secure, watch_s
        journal = book.path.with_name(f"{book.path.stem}.sessions.json")  # a restart signs no one out
        self.sessions = Sessions(timedelta(minutes=idle_timeout_min), clock, journal, book.principal)
        self.idle_timeout_min = idle_timeout_min
        super().__init__()

    # --- Bokeh's hooks: the app's pages and websockets ------------------------------------------
    @property
    def get_user(self) -> Callable[[RequestHandler], str | None]:
        return self.session_user

    @property
    def login_url(self) -> str:
        return LOGIN_URL

    @property
    def login_handler(self) -> type[RequestHandler]:
        return LoginHandler

    @property
    def logout_url(self) -> str:
        return LOGOUT_URL

    @property
    def logout_handler(self) -> type[RequestHandler]:
        return LogoutHandler

    def session_user(self, handler: RequestHandler) -> str | None:
        """The user of the request's session cookie (None: to the login page), noted on the request."""
        token = handler.get_cookie(COOKIE) or ""
        try:
            principal = self.sessions.principal(token)
        except Unauthenticated:
            return None
        handler.request.twin_sign_in = SignedIn(principal, self.sessions, token)
        return principal.name

    # --- credentials ----------------------------------------------------------------------------
    def verify(self, name: str, password: str, remote: str, method: str) -> Principal | None:
        """The user's principal when the password is right (and not locked out); audited either way."""
        principal = self.book.verify(name, password, remote)
        locked = principal is None and self.book.lockout.locked_until(name) is not None
        audit(principal or Principal(name[:64]), "login", method + (", locked" if locked else ""),
              "denied" if principal is None else "allowed", remote=remote)
        return principal

    def authenticate(self, handler: RequestHandler) -> SignedIn:
        """The REST request's sign-in (HTTP Basic, a bearer token or the session cookie), for its duration."""
        scheme, _, value = handler.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            name, password = basic_credentials(value.strip())
            principal = self.verify(name, password, handler.request.remote_ip or "", "basic")
            if principal is None:
                raise Unauthenticated("wrong user name or password, or the account is locked")
            return SignedIn(principal)
        token = value.strip() if scheme.lower() == "bearer" else handler.get_cookie(COOKIE) or ""
        return SignedIn(self.sessions.principal(token))

    def page(self, make: Callable[[], Any]) -> Callable[[], Any]:
        """``make``'s page, which goes to the sign-in page once its session ends (idle, signed out)."""
        def signed_in_page() -> Any:
            view = make()
            signed_in: SignedIn = pn.state.curdoc.session_context.request.twin_sign_in
            location = pn.state.location

            def watch() -> None:
                if not signed_in.alive():
                    watcher.stop()
                    location.param.update(reload=True, search="", pathname=LOGIN_URL)

            watcher = pn.state.add_periodic_callback(watch, period=int(self.watch_s * 1000))
            return view
        return signed_in_page


def users_sign_in(path: Path, idle_timeout_min: float, secure: bool) -> SignIn:
    """The sign-in of ``twin serve --users FILE``: one line naming the flag when it cannot be."""
    if not idle_timeout_min > 0:
        raise InputError(f"--idle-timeout-min {idle_timeout_min:g}: must be more than 0")
    book = UserBook(path)
    if not path.is_file() or not book.users():
        raise InputError(f"--users {path}: {'no users' if path.is_file() else 'no such file'} "
                         f"(add one: twin users add {path} NAME --role admin)")
    return SignIn(book, idle_timeout_min, secure)


class Gate(RequestHandler):
    """Mixed in before a REST handler: the request's sign-in before anything else, or 401."""

    async def prepare(self) -> None:
        try:  # off the event loop: a Basic password costs a scrypt hash (tens of ms) no page should wait for
            self.request.twin_sign_in = await IOLoop.current().run_in_executor(
                None, self.application.auth_provider.authenticate, self)
        except Unauthenticated as exc:
            self.set_status(401)
            self.set_header("WWW-Authenticate", REALM)
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(json.dumps({"error": str(exc)}, ensure_ascii=False))
            return
        if (prepared := super().prepare()) is not None:
            await prepared


def gated(route: Route) -> Route:
    """The route with its handler behind :class:`Gate`."""
    pattern, handler, kwargs = route
    return pattern, type(handler.__name__, (Gate, handler), {}), kwargs


class LoginHandler(RequestHandler):
    """``GET /login``: the form; ``POST /login``: sign in (cookie and redirect, or JSON with the token)."""

    def get(self) -> None:
        self.form(self.get_query_argument("next", "/"))

    async def post(self) -> None:
        sign_in: SignIn = self.application.auth_provider
        name, wants_json = self.get_body_argument("name", ""), "application/json" in self.request.headers.get(
            "Accept", "")
        principal = await IOLoop.current().run_in_executor(  # scrypt: off the event loop
            None, sign_in.verify, name, self.get_body_argument("password", ""), self.request.remote_ip or "", "form")
        if principal is None:
            self.set_status(401)
            if wants_json:
                self.finish({"error": FAILED})
            else:
                self.form(self.get_body_argument("next", "/"), name, FAILED)
            return
        token = sign_in.sessions.open(principal)
        if wants_json:
            self.finish({"token": token, "name": principal.name, "role": principal.role,
                         "idle_timeout_min": sign_in.idle_timeout_min})
            return
        self.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=sign_in.secure)
        self.redirect(safe_next(self.get_body_argument("next", "/")))

    def form(self, next_path: str, name: str = "", error: str = "") -> None:
        self.set_header("Cache-Control", "no-store")
        self.finish(LOGIN_PAGE.substitute(
            name=escape(name), next=escape(safe_next(next_path)),
            error=f"<p class='twin-error' role='alert'>{escape(error)}</p>" if error else ""))


class LogoutHandler(RequestHandler):
    """``GET /logout``: end the session, back to the form."""

    def get(self) -> None:
        principal = self.application.auth_provider.sessions.close(self.get_cookie(COOKIE) or "")
        if principal is not None:
            audit(principal, "logout", "session", "allowed", remote=self.request.remote_ip or "")
        self.clear_cookie(COOKIE)
        self.redirect(LOGIN_URL)
