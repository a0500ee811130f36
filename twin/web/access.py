"""The one door in (design decision 10): who is asking, may they, and the audit record.

Every HTTP route and every app action calls :func:`check` (directly or through :func:`guarded`).
Served with a users file, whoever signed in (:mod:`twin.web.auth`) is the principal; without one
there is one principal, ``local``, holding every permission, and the server listens on localhost
only, so that is the truth of who can reach it.

>>> check(LOCAL, "geometry.read", "geometry/abc")  # doctest: +SKIP  (allowed: one audit line)
"""
from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from twin.audit_log import AuditLog, log_at
from twin.roles import grants

ALL = "*"

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Principal:
    """Someone (or something) acting on the twin, with the permissions they hold."""

    name: str
    permissions: frozenset[str] = frozenset()
    role: str = ""  #: the role of :data:`twin.roles.ROLES` a signed-in user holds ("" for the others)

    def may(self, permission: str) -> bool:
        return grants(self.permissions, permission)


LOCAL = Principal("local", frozenset({ALL}))


class AccessDenied(PermissionError):
    """Raised by :func:`check` when a principal lacks a permission."""

    def __init__(self, principal: Principal, permission: str, target: str):
        super().__init__(f"{principal.name} may not {permission} on {target}")
        self.principal, self.permission, self.target = principal, permission, target


class Unauthenticated(PermissionError):
    """No valid sign-in: no credentials, wrong ones, or a session ended (HTTP 401, the sign-in page)."""


def current_principal(request: Any = None) -> Principal:
    """The principal behind an HTTP request or, without one, the current app session: whoever
    :mod:`twin.web.auth` signed in for it (``twin_sign_in``), else ``local``.

    Raises :class:`Unauthenticated` when the session signed in has ended (idle timeout, signed out).
    """
    signed_in = getattr(session_request() if request is None else request, "twin_sign_in", None)
    return LOCAL if signed_in is None else signed_in()


def data_dir() -> Path:
    """The twin's data directory: ``$TWIN_HOME``, else ``./.twin``."""
    return Path(os.environ.get("TWIN_HOME", ".twin"))


def audit_log() -> AuditLog:
    """The audit log under :func:`data_dir` (``audit/YYYY-MM.jsonl``, :mod:`twin.audit_log`)."""
    return log_at(data_dir().absolute() / "audit")


def audit_path() -> Path:
    """This month's audit file, the one records are appended to now."""
    return audit_log().current_path()


def audit(principal: Principal, action: str, target: str, outcome: str, remote: str = "") -> None:
    """Append one hash-chained record to the audit log (``remote``: the client's address)."""
    audit_log().append(principal.name, action, target, outcome, remote)


def session_request() -> Any:
    """The HTTP request that opened the current Panel session (None outside one, or when Panel is not loaded)."""
    panel = sys.modules.get("panel")
    context = getattr(panel.state.curdoc, "session_context", None) if panel is not None else None
    return getattr(context, "request", None)


def session_remote() -> str:
    """The client address of the current Panel session ("" outside one)."""
    return getattr(session_request(), "remote_ip", None) or ""


def check(principal: Principal, permission: str, target: str, remote: str = "") -> None:
    """Allow or refuse ``permission`` on ``target``, audit either way; raise :class:`AccessDenied`.

    ``remote`` is the client's address; without it, the current app session's (:func:`session_remote`).
    """
    allowed = principal.may(permission)
    audit(principal, permission, target, "allowed" if allowed else "denied", remote or session_remote())
    if not allowed:
        raise AccessDenied(principal, permission, target)


#: Every app action's permission, by the action's qualified name (filled as :func:`guarded` decorates):
#: what the role × action matrix test enumerates.
ACTIONS: dict[str, str] = {}


def guarded(permission: str, target: Callable[..., str]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate an app action so it runs only after :func:`check` passes.

    ``target`` maps the action's arguments to the audited target, e.g. ``lambda node_id: node_id``.
    """
    def wrap(action: Callable[P, R]) -> Callable[P, R]:
        ACTIONS[f"{action.__module__}.{action.__qualname__}"] = permission
        @functools.wraps(action)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            check(current_principal(), permission, target(*args, **kwargs))
            return action(*args, **kwargs)
        return run
    return wrap
