"""Roles and what each may do: the permissions every route and app action checks (:mod:`twin.web.access`).

A permission is ``area.verb`` (``alarm.ack``, ``device.command``; ``page.<page>`` opens a role page); ``area.*`` grants every verb of an
area and ``*`` everything. The six roles of a park (issue 9, 等保二级: least privilege):

- ``tour``: investment staff showing visitors round — the park's geometry (less the security layers),
  its search, cards and tours; nothing live, no cameras, access control, alarms or work orders.
- ``wall``: the monitoring centre's unattended large screen — everything live to read, nothing to
  change; its sessions do not end when unused (:mod:`twin.web.sessions`).
- ``monitor``: the monitoring centre — everything live to read, alarms to acknowledge, work orders to
  raise from them; no commands, no drills.
- ``commander``: the emergency commander — a monitor who also runs drills, opens plans and confirms
  their commands, isolates pipe bursts and clears alarms.
- ``maintainer``: a monitor who also sends device commands, works the orders, clears alarms and runs
  the network analyses.
- ``admin``: everything, the users and the audit log included.

Personal data in the registry (contacts' names and phone numbers) is shown to commanders, maintainers
and admins (``personal.read``) and masked for the others (:mod:`twin.web.privacy`).
"""
from __future__ import annotations

#: What every signed-in person may do: see the park and move about it.
_VIEW = frozenset({"view.*", "scene.read", "geometry.read", "node.read", "node.search", "node.locate",
                   "tour.*"})
#: Reading what is live (states, history, alarms, cameras, energy, orders, networks, kept reports).
_LIVE = frozenset({"state.read", "device.read", "alarm.read", "camera.read", "energy.read", "workorder.read",
                   "network.read", "report.read", "report.list", "layer.security"})

ROLES: dict[str, frozenset[str]] = {
    "tour": _VIEW | {"page.tour"},
    "wall": _VIEW | _LIVE | {"page.wall"},
    "monitor": _VIEW | _LIVE | {"alarm.ack", "workorder.write", "page.wall", "page.workstation"},
    "commander": _VIEW | _LIVE | {"alarm.ack", "alarm.clear", "workorder.write", "drill.*", "plan.*", "report.save",
                                  "network.*", "personal.read", "page.wall", "page.workstation", "page.command",
                                  "page.tour"},
    "maintainer": _VIEW | _LIVE | {"alarm.ack", "alarm.clear", "workorder.write", "device.command", "network.*",
                                   "diagnostics.read", "personal.read", "page.wall", "page.workstation",
                                   "page.maintenance"},
    "admin": frozenset({"*"}),
}


def grants(permissions: frozenset[str], permission: str) -> bool:
    """Whether a set of permissions grants ``permission`` (exactly, by its area's ``*``, or by ``*``)."""
    area = permission.split(".", 1)[0]
    return permission in permissions or f"{area}.*" in permissions or "*" in permissions
