"""The one door in (design decision 10): who is asking, may they, and the audit record.

Every HTTP route and every app action calls :func:`check` (directly or through :func:`guarded`).
Until users exist there is one principal, ``local``, holding every permission; the server listens
on localhost only, so that is the truth of who can reach it.

>>> check(LOCAL, "geometry.read", "geometry/abc")  # doctest: +SKIP  (allowed: one audit line)
"""
from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from twin.roles import grants

ALL = "*"

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Principal:
    """Someone (or something) acting on the twin, with the permissions they hold."""

    name: str
    permissions: frozenset[str] = frozenset()

    def may(self, permission: str) -> bool:
        return grants(self.permissions, permission)


LOCAL = Principal("local", frozenset({ALL}))


class AccessDenied(PermissionError):
    """Raised by :func:`check` when a principal lacks a permission."""

    def __init__(self, principal: Principal, permission: str, target: str):
        super().__init__(f"{principal.name} may not {permission} on {target}")
        self.principal, self.permission, self.target = principal, permission, target


def current_principal(request: Any = None) -> Principal:
    """The principal behind an HTTP request or app session (always ``local`` for now)."""
    return LOCAL


def data_dir() -> Path:
    """The twin's data directory: ``$TWIN_HOME``, else ``./.twin``."""
    return Path(os.environ.get("TWIN_HOME", ".twin"))


def audit_path() -> Path:
    return data_dir() / "audit.jsonl"


_audit_lock = threading.Lock()


def audit(principal: Principal, action: str, target: str, outcome: str) -> None:
    """Append one audit record (a JSON line) to :func:`audit_path`."""
    record = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
              "principal": principal.name, "action": action, "target": target, "outcome": outcome}
    line = json.dumps(record, ensure_ascii=False) + "\n"
    path = audit_path()
    with _audit_lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(line)


def check(principal: Principal, permission: str, target: str) -> None:
    """Allow or refuse ``permission`` on ``target``, audit either way; raise :class:`AccessDenied`."""
    allowed = principal.may(permission)
    audit(principal, permission, target, "allowed" if allowed else "denied")
    if not allowed:
        raise AccessDenied(principal, permission, target)


def guarded(permission: str, target: Callable[..., str]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate an app action so it runs only after :func:`check` passes.

    ``target`` maps the action's arguments to the audited target, e.g. ``lambda node_id: node_id``.
    """
    def wrap(action: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(action)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            check(current_principal(), permission, target(*args, **kwargs))
            return action(*args, **kwargs)
        return run
    return wrap
