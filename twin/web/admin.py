"""The administrator's page (``/admin``): what the served scene holds — nodes by kind, render batches,
devices by type and how many report — the monthly energy report of a chosen month (when the park has
meters), the latest audit records with the chain's status, and the live side's diagnostics (topics,
rejected messages)."""
from __future__ import annotations

from collections import Counter, defaultdict
from html import escape

import panel as pn

from live.runtime import Live
from live.state import Status, device_type
from twin.audit_log import FIELDS
from twin.energy.monthly import recent_months
from twin.park import Park
from twin.web.access import AccessDenied, audit_log, guarded
from twin.web.diagnostics import TABLE_CSS, Diagnostics
from twin.web.messages import t

REFRESH_MS = 5000
REPORT_MONTHS = 12  #: the months offered for the energy report, this one first
LINK_STYLE = "color:#4fc3f7"
AUDIT_ROWS = 50  #: the latest audit records shown


def table_html(css_class: str, head: list[str], rows: list[list[object]]) -> str:
    cells = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return (f"<table class='{css_class}'><tr>{''.join(f'<th>{escape(h)}</th>' for h in head)}</tr>"
            f"{cells}</table>")


def scene_html(park: Park, lang: str) -> str:
    """The park's nodes by kind and its render batches by category."""
    kinds = sorted(park.counts().items(), key=lambda item: -item[1])
    batches: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for batch in park.batches:
        totals = batches[batch.category]
        totals[0] += 1
        totals[1] += len(batch.node_ids)
        totals[2] += batch.n_triangles
    size = park.bounds_m()
    extent = f"{size[3] - size[0]:.0f} m × {size[4] - size[1]:.0f} m × {size[5] - size[2]:.0f} m" if size else "—"
    return (f"<h3>{escape(t('admin.scene', lang))}</h3>"
            f"<p>{escape(park.name)} · {escape(park.crs or '—')} · {escape(extent)}</p>"
            + table_html("twin-admin-kinds", [t("kind", lang), t("admin.count", lang)], kinds)
            + table_html("twin-admin-batches", [t("admin.category", lang), t("admin.batches", lang),
                                               t("admin.nodes", lang), t("admin.triangles", lang)],
                         [[c, *(f"{v:,}" for v in totals)] for c, totals in sorted(batches.items())]))


def devices_html(live: Live, lang: str) -> str:
    """Devices per registry type: how many, and how many report, are stale or offline, or were never heard."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for device in live.park.of_kind("device"):
        kind = device_type(device) or "—"
        counts[kind][live.state.status(device.id)] += 1
    reporting = (Status.NORMAL, Status.WARNING, Status.ALARM)
    rows = [[kind, sum(c.values()), sum(c[s] for s in reporting), c[Status.STALE], c[Status.OFFLINE],
             c[Status.UNKNOWN], t("yes" if kind in live.spec.device_types else "no", lang)]
            for kind, c in sorted(counts.items())]
    return f"<h3>{escape(t('admin.devices', lang))}</h3>" + table_html(
        "twin-admin-devices", [t("admin.type", lang), t("admin.count", lang), t("admin.reporting", lang),
                               t("status.stale", lang), t("status.offline", lang), t("status.unknown", lang),
                               t("admin.declared", lang)], rows)


def audit_html(rows: list[dict[str, str]], status: str, lang: str) -> str:
    """The audit records (newest first) under the chain's status line."""
    return (f"<h3>{escape(t('admin.audit', lang))}</h3><p class='twin-admin-audit-status'>{escape(status)}</p>"
            + table_html("twin-admin-audit", [t(f"audit.{key}", lang) for key in FIELDS],
                         [[row[key] for key in FIELDS] for row in rows]))


def energy_links_html(month: str, lang: str) -> str:
    """Links to the month's energy report as HTML and as CSV (:mod:`twin.web.energy_routes`), in a new tab."""
    links = [f"<a href='/reports/energy/{escape(month)}.{kind}' target='_blank' style='{LINK_STYLE}'>"
             f"{escape(t(f'admin.report_{kind}', lang))}</a>" for kind in ("html", "csv")]
    return f"<p class='twin-admin-energy'>{' · '.join(links)}</p>"


class EnergyReportLinks:
    """A month picker (the last :data:`REPORT_MONTHS` months, by the live clock in the scene's time zone)
    and the links to that month's energy report."""

    def __init__(self, live: Live, lang: str):
        months = recent_months(live.clock.now(), live.energy.spec.zone, REPORT_MONTHS)
        self.month = pn.widgets.Select(label=t("admin.month", lang), options=months, value=months[0], width=160)
        self.links = pn.pane.HTML(energy_links_html(months[0], lang))
        self.month.param.watch(lambda event: setattr(self.links, "object", energy_links_html(event.new, lang)),
                               "value")
        self.title = pn.pane.HTML(f"<h3>{escape(t('admin.energy', lang))}</h3>")

    def panel(self) -> pn.viewable.Viewable:
        return pn.Column(self.title, pn.Row(self.month, self.links))


class AdminPage:
    """One session of the administrator's page; the device table refreshes every few seconds."""

    def __init__(self, park: Park, live: Live | None, lang: str = "zh"):
        self.park, self.live, self.lang = park, live, lang
        self.scene = pn.pane.HTML(scene_html(park, lang), sizing_mode="stretch_width", stylesheets=[TABLE_CSS])
        self.devices = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[TABLE_CSS])
        self.energy = EnergyReportLinks(live, lang) if live is not None and live.energy.metered else None
        try:
            audit = self.latest_audit()
        except AccessDenied as exc:
            audit = f"<p>{escape(str(exc))}</p>"
        self.audit = pn.pane.HTML(audit, sizing_mode="stretch_width", stylesheets=[TABLE_CSS])
        self.refresh()

    @guarded("audit.read", lambda self: f"audit?limit={AUDIT_ROWS}")
    def latest_audit(self) -> str:
        """The latest :data:`AUDIT_ROWS` audit records and the verifier's line on the whole chain."""
        log = audit_log()
        verdict = log.verdict()
        return audit_html(log.query(limit=AUDIT_ROWS),
                          verdict.line() if verdict is not None else t("admin.audit_verifying", self.lang), self.lang)

    @guarded("admin.read", lambda self: f"park/{self.park.name}")
    def refresh(self) -> None:
        """Draw the devices, once the session may (checked and audited as the page opens; the periodic
        redraws of the open page are not audited again)."""
        self.draw_devices()

    def draw_devices(self) -> None:
        if self.live is not None:
            self.devices.object = devices_html(self.live, self.lang)

    def panel(self, header: pn.viewable.Viewable) -> pn.viewable.Viewable:
        parts: list[pn.viewable.Viewable] = [header, pn.Row(self.scene, self.devices, sizing_mode="stretch_width")]
        if self.energy is not None:
            parts.append(self.energy.panel())
        parts.append(self.audit)
        if self.live is not None:
            parts.append(Diagnostics(self.live, self.lang).panel())
            pn.state.add_periodic_callback(self.draw_devices, period=REFRESH_MS)
        return pn.Column(*parts, sizing_mode="stretch_both", scroll=True)
