"""Live state in the viewport (design decision 5): each session pulls what changed from the shared
:class:`~live.state.State` on a short periodic callback and sends it as style deltas.

No MQTT thread touches a Bokeh document: the State is written by ingest and only read here, on the
session's own callback, at most ten times a second.
"""
from __future__ import annotations

from collections import defaultdict

import panel as pn

from live.state import State, Status
from twin.web.viewport import Viewport

PULL_PERIOD_MS = 100
#: How a status looks (``None``: the batch's own look). Alarms blink as well.
STATUS_RGB: dict[Status, tuple[int, int, int] | None] = {
    Status.UNKNOWN: None, Status.NORMAL: None, Status.STALE: (150, 150, 150),
    Status.OFFLINE: (85, 85, 95), Status.WARNING: (255, 193, 7), Status.ALARM: (229, 57, 53)}

#: Roll-ups that are not coloured: the park's own node is the ground under everything.
UNCOLOURED = frozenset({"park", "site"})


class LiveView:
    """Keeps one session's viewport in step with the State (``start`` begins the periodic pull)."""

    def __init__(self, state: State, viewport: Viewport):
        self.state, self.viewport = state, viewport
        self.version = 0

    def pull(self) -> int:
        """Send the status changes since the last pull, one message per status; how many nodes changed."""
        self.version, changes = self.state.changes_since(self.version)
        by_status: dict[Status, list[str]] = defaultdict(list)
        park = self.viewport.index.park
        for node_id, change in changes.items():
            if park.get(node_id).kind not in UNCOLOURED:
                by_status[change.status].append(node_id)
        for status, node_ids in by_status.items():
            rgb = STATUS_RGB[status]
            if rgb is None:
                self.viewport.reset_style(node_ids)
            else:
                self.viewport.style(node_ids, rgb=rgb, blink=status == Status.ALARM)
        return len(changes)

    def start(self) -> None:
        pn.state.add_periodic_callback(self.pull, period=PULL_PERIOD_MS)
