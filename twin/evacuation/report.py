"""An evacuation run as one self-contained HTML report: inline CSS, charts as inline SVG, pictures as
base64 PNG; nothing is fetched from anywhere, so the file can be kept, mailed and printed as it is.

>>> write_report(result, graph, "report.html", "火灾演练 Fire drill 3F")  # doctest: +SKIP
"""
from __future__ import annotations

import base64
import math
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from twin.errors import InputError
from twin.evacuation.graph import EvacuationGraph
from twin.evacuation.resources import Resource
from twin.evacuation.result import CONGESTED_PPM2, EvacuationResult, SpaceTimes
from twin.report_html import CSS as BASE_CSS
from twin.report_html import escape as _e
from twin.report_html import made_at, table
from twin.report_html import nice_max as _nice_max
from twin.report_html import ticks as _ticks

FLOW_BIN_S = 10.0  #: the bin over which the exit-flow chart counts passes
MAX_CURVE_POINTS = 800  #: a longer evacuation curve is thinned to this many points
MAX_BAR_SPACES = 20  #: the RSET/ASET chart shows at most this many spaces, the tightest
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PDF_TIMEOUT_S = 60
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
CREATED_META = "twin-report-created"  #: the <meta> naming when a report was made (read by the store)

# Every label Simplified Chinese first, English second (the web app's catalogue, twin.web.messages,
# holds one language per label; these keys are ready to move there as "report.*").
LABELS: dict[str, tuple[str, str]] = {
    "drill": ("演练 — 非真实事件", "DRILL — not a real incident"),
    "date": ("日期", "Date"), "model": ("模型", "Model"), "hazard": ("灾害", "Hazard"),
    "occupants": ("人数", "Occupants"), "evacuated": ("已疏散", "Evacuated"),
    "total_time": ("总疏散时间", "Total time"), "result": ("结果", "Result"),
    "pass": ("通过", "PASS"), "fail": ("未通过", "FAIL"), "none": ("无", "None"),
    "curve": ("疏散曲线", "Evacuation curve"), "time_s": ("时间 (s)", "Time (s)"),
    "persons_out": ("已疏散人数", "Persons out"),
    "exit_flow": ("各出口流量", "Flow per exit"), "per_bin": ("人/10 s", "persons per 10 s"),
    "exits": ("出口", "Exits"), "exit": ("出口", "Exit"), "persons": ("人数", "Persons"),
    "first_out": ("首人 (s)", "First out (s)"), "last_out": ("末人 (s)", "Last out (s)"),
    "max_flow": ("最大流量 (人/s)", "Max flow (p/s)"),
    "rset_aset": ("RSET 与 ASET", "RSET vs ASET"), "space": ("空间", "Space"),
    "margin": ("余量 (s)", "Margin (s)"), "tightest": ("余量最小的 {n} 个空间：", "the {n} tightest spaces:"), "no_route": ("无路可出", "No route out"),
    "congestion": ("拥堵", "Congestion"), "no_congestion": ("无拥堵", "No congestion"),
    "jammed": (f"密度 > {CONGESTED_PPM2:g} 人/m² 时长 (s)", f"Time above {CONGESTED_PPM2:g} p/m² (s)"),
    "max_density": ("最大密度 (人/m²)", "Max density (p/m²)"),
    "stairs": ("楼梯使用", "Stairs used"), "stair": ("楼梯", "Stair"), "no_stairs": ("未使用楼梯", "No stair used"),
    "actions": ("处置时间线", "Action timeline"), "action": ("措施", "Action"),
    "assembly": ("集合点", "Assembly points"), "assembly_point": ("集合点", "Assembly point"),
    "capacity": ("容量", "Capacity"), "last_in": ("最后到达 (s)", "Last in (s)"),
    "resources": ("事发点附近资源", "Resources near the incident"), "kind": ("类别", "Kind"),
    "name": ("名称", "Name"), "distance": ("距离 (m)", "Distance (m)"), "eta": ("预计到达 (s)", "ETA (s)"),
    "pictures": ("现场图片", "Pictures"), "problems": ("问题", "Problems"), "no_problems": ("无问题", "No problems"),
    "fire": ("火灾", "fire"), "gas": ("气体泄漏", "gas leak"), "flood": ("水浸", "flood"),
    "intrusion": ("入侵", "intrusion"), "crowd": ("人群聚集", "crowd"),
}


def label(key: str) -> str:
    """The bilingual label for ``key``: ``"疏散曲线 Evacuation curve"``."""
    zh, en = LABELS[key]
    return f"{zh} {en}"


def write_report(result: EvacuationResult, graph: EvacuationGraph, path: str | Path, title: str,
                 drill: bool = True, actions: Sequence[tuple[float, str]] = (), pictures: Sequence[bytes] = (),
                 created: datetime | None = None, resources: Sequence[Resource] = ()) -> Path:
    """Write the report of ``result`` to ``path`` (folders made as needed) and return the path; a
    ``.pdf`` path gets the same page printed by the system's Chromium. ``resources``: those near the
    incident (:func:`twin.evacuation.resources.resources`), listed in a table."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = report_html(result, graph, title, drill, actions, pictures, made_at(created), resources)
    if path.suffix.lower() == ".pdf":
        return print_pdf(text, path)
    path.write_text(text, encoding="utf-8")
    return path


def print_pdf(html: str, path: Path) -> Path:
    """The page as PDF, printed by headless Chromium (the one the set-up installs)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise InputError(f"{path}: a PDF report needs Chromium (apt-get install chromium); write .html instead")
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "report.html"
        page.write_text(html, encoding="utf-8")
        done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                               "--no-pdf-header-footer", f"--print-to-pdf={path.resolve()}", page.as_uri()],
                              capture_output=True, timeout=PDF_TIMEOUT_S)
    if done.returncode != 0 or not path.is_file():
        raise InputError(f"{path}: Chromium could not print the report ({done.stderr.decode(errors='replace')[-200:]})")
    return path


def report_html(result: EvacuationResult, graph: EvacuationGraph, title: str, drill: bool,
                actions: Sequence[tuple[float, str]], pictures: Sequence[bytes], created: datetime,
                resources: Sequence[Resource] = ()) -> str:
    """The whole report as one HTML document."""
    body = [_drill_band() if drill else "", _header(result, graph, title, created),
            _section("curve", _curve_chart(result, actions)),
            _section("exit_flow", _exit_flow_chart(result, graph)),
            _section("exits", _exits_table(result)),
            _section("rset_aset", _rset_aset_chart(result) + _spaces_table(result)),
            _section("congestion", _congestion_table(result)),
            _section("stairs", _stairs_table(result))]
    if result.assembly:
        body.append(_section("assembly", _assembly_table(result)))
    if actions:
        body.append(_section("actions", _actions_table(actions)))
    if resources:
        body.append(_section("resources", _resources_table(resources)))
    if pictures:
        body.append(_section("pictures", "".join(_picture(p) for p in pictures)))
    body.append(_section("problems", _problems(result, graph)))
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="{CREATED_META}" content="{created.isoformat(timespec="seconds")}">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head>"
            f'<body class="{"drill" if drill else ""}">{"".join(body)}</body></html>\n')


# --- sections ---------------------------------------------------------------------------------------
def _drill_band() -> str:
    return f'<div class="drill-band">{_e(label("drill"))}</div>'


def _header(result: EvacuationResult, graph: EvacuationGraph, title: str, created: datetime) -> str:
    verdict = "pass" if result.passed else "fail"
    facts = [("date", created.strftime("%Y-%m-%d %H:%M:%S")), ("model", result.model),
             ("hazard", _hazard_text(result, graph)), ("occupants", str(result.occupants)),
             ("evacuated", str(result.evacuated)), ("total_time", f"{result.total_time_s:.1f} s")]
    cells = "".join(f"<div><dt>{_e(label(k))}</dt><dd>{_e(v)}</dd></div>" for k, v in facts)
    badge = f'<div><dt>{_e(label("result"))}</dt><dd class="verdict {verdict}">{_e(label(verdict))}</dd></div>'
    return f"<header><h1>{_e(title)}</h1><dl>{cells}{badge}</dl></header>"


def _hazard_text(result: EvacuationResult, graph: EvacuationGraph) -> str:
    h = result.hazard
    if h is None:
        return label("none")
    where = graph.places[graph.place_index[h.origin]].name if h.origin in graph.place_index else h.origin
    return f"{label(h.kind) if h.kind in LABELS else h.kind} @ {where}"


def _section(key: str, content: str) -> str:
    return f"<section><h2>{_e(label(key))}</h2>{content}</section>"


def _curve_chart(result: EvacuationResult, actions: Sequence[tuple[float, str]]) -> str:
    t_s, n = result.curve()
    t_s, n = _thin(np.r_[0.0, t_s], np.r_[0, n])
    marks_s = sorted(t for t, _ in actions)
    return _line_chart("curve", [Series(label("persons_out"), t_s, n, COLOURS[0])],
                       label("time_s"), label("persons_out"), marks_s)


def _exit_flow_chart(result: EvacuationResult, graph: EvacuationGraph) -> str:
    edges_s = np.arange(0.0, max(result.total_time_s, FLOW_BIN_S) + FLOW_BIN_S, FLOW_BIN_S)
    names, series = _exit_names(result), []
    for k, e in enumerate(x for x in result.exits if x.count):
        o = graph.opening_index[e.id]
        counts, _ = np.histogram(result.passes[result.passes[:, 1] == o, 0], bins=edges_s)
        series.append(Series(names[e.id], np.repeat(edges_s, 2)[1:-1], np.repeat(counts, 2),
                             COLOURS[k % len(COLOURS)]))
    if not series:
        return f"<p>{_e(label('none'))}</p>"
    return _line_chart("exit-flow", series, label("time_s"), label("per_bin"))


def _exits_table(result: EvacuationResult) -> str:
    names = _exit_names(result)
    rows = [[names[e.id], e.count, _s(e.first_out_s), _s(e.last_out_s), f"{e.max_flow_pps:.2f}"]
            for e in result.exits]
    return _table(["exit", "persons", "first_out", "last_out", "max_flow"], rows)


def _spaces_table(result: EvacuationResult) -> str:
    rows = []
    for s in _by_margin(result.spaces):
        rset = label("no_route") if s.rset_s is None else _s(s.rset_s)
        rows.append(([s.name or s.id, s.occupants, rset, _s(s.aset_s), _s(_margin_s(s)),
                      label("pass" if s.passed else "fail")], "" if s.passed else "fail"))
    head = ["space", "occupants", "RSET (s)", "ASET (s)", "margin", "result"]
    return _table(head, [r for r, _ in rows], [c for _, c in rows])


def _rset_aset_chart(result: EvacuationResult) -> str:
    """Horizontal bars, RSET over ASET, for the tightest spaces that become untenable (all in the table)."""
    untenable = [s for s in _by_margin(result.spaces) if s.aset_s is not None]
    if not untenable:
        return ""
    spaces = untenable[:MAX_BAR_SPACES]
    zh, en = LABELS["tightest"]
    note = (f'<p class="legend">{_e(zh.format(n=len(spaces)))} {_e(en.format(n=len(spaces)))}</p>'
            if len(untenable) > len(spaces) else "")
    top_s = _nice_max(max(max(s.aset_s, s.rset_s or 0.0) for s in spaces))
    left, width, row = 180, 520, 30
    scale = width / top_s
    parts = []
    for i, s in enumerate(spaces):
        y = 8 + i * row
        rset = s.rset_s if s.rset_s is not None else top_s
        colour = "#2ca02c" if s.passed else "#d62728"
        parts += [f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{_e(_clip(s.name or s.id))}</text>',
                  f'<rect x="{left}" y="{y}" width="{rset * scale:.1f}" height="10" fill="{colour}">'
                  f"<title>RSET {_s(s.rset_s)} s</title></rect>",
                  f'<rect x="{left}" y="{y + 12}" width="{s.aset_s * scale:.1f}" height="10" fill="#999">'
                  f"<title>ASET {_s(s.aset_s)} s</title></rect>"]
    axis_y = 8 + len(spaces) * row
    ticks = "".join(f'<line x1="{left + t * scale:.1f}" x2="{left + t * scale:.1f}" y1="{axis_y}" '
                    f'y2="{axis_y + 4}" stroke="#333"/><text x="{left + t * scale:.1f}" y="{axis_y + 16}" '
                    f'text-anchor="middle">{t:g}</text>' for t in _ticks(top_s))
    legend = (f'<text x="{left}" y="{axis_y + 34}"><tspan fill="#2ca02c">■</tspan>/<tspan fill="#d62728">■'
              f'</tspan> RSET   <tspan fill="#999">■</tspan> ASET   {_e(label("time_s"))}</text>')
    return (f'{note}<svg class="chart" id="rset-aset" viewBox="0 0 {left + width + 20} {axis_y + 44}">'
            f'<line x1="{left}" x2="{left + width}" y1="{axis_y}" y2="{axis_y}" stroke="#333"/>'
            f'{"".join(parts)}{ticks}{legend}</svg>')


def _congestion_table(result: EvacuationResult) -> str:
    if not result.congestion:
        return f"<p>{_e(label('no_congestion'))}</p>"
    rows = [[c.name or c.space_id, _s(c.duration_s), f"{c.max_density_ppm2:.2f}"] for c in result.congestion]
    return _table(["space", "jammed", "max_density"], rows)


def _stairs_table(result: EvacuationResult) -> str:
    used = [s for s in result.stairs if s.count]
    if not used:
        return f"<p>{_e(label('no_stairs'))}</p>"
    return _table(["stair", "persons"], [[s.name or s.id, s.count] for s in used])


def _assembly_table(result: EvacuationResult) -> str:
    """Who reached which assembly point, when the last arrived, and whether it holds them."""
    rows = [[a.name, a.count, a.capacity if a.capacity is not None else "—", _s(a.last_in_s)] for a in result.assembly]
    return _table(["assembly_point", "persons", "capacity", "last_in"], rows,
                  ["fail" if a.over_capacity else "" for a in result.assembly])


def _actions_table(actions: Sequence[tuple[float, str]]) -> str:
    """Numbered as the dashed marks on the evacuation curve."""
    rows = [[i, _s(t), text] for i, (t, text) in enumerate(sorted(actions, key=lambda a: a[0]), 1)]
    return _table(["#", "time_s", "action"], rows)


def _resources_table(resources: Sequence[Resource]) -> str:
    """What is near the incident, in the order found (each kind nearest first; teams soonest there first)."""
    rows = [[r.kind, r.name or r.id, f"{r.distance_m:.0f}", _s(r.eta_s)] for r in resources]
    return _table(["kind", "name", "distance", "eta"], rows)


def _picture(png: bytes) -> str:
    if not png.startswith(PNG_MAGIC):
        raise InputError("report picture: not a PNG image")
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _problems(result: EvacuationResult, graph: EvacuationGraph) -> str:
    stranded = [graph.places[graph.place_index[p]].name or p for p in result.stranded]
    lines = ([f"{label('no_route')}: {', '.join(stranded)}"] if stranded else []) + list(result.problems)
    if not lines:
        return f"<p>{_e(label('no_problems'))}</p>"
    return "<ul>" + "".join(f"<li>{_e(line)}</li>" for line in lines) + "</ul>"


# --- charts -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Series:
    """One line of a chart; its points are also written to the SVG as ``data-points``."""

    name: str
    x: np.ndarray
    y: np.ndarray
    colour: str


def _line_chart(chart_id: str, series: list[Series], x_label: str, y_label: str,
                marks_x: Sequence[float] = ()) -> str:
    """An SVG line chart with axes, ticks, dashed marks (action times) and, for several series, a legend."""
    w, h, left, right, top, bottom = 720, 300, 56, 16, 16, 44
    x_max = _nice_max(max([float(np.max(s.x)) for s in series] + list(marks_x)))
    y_max = _nice_max(max(float(np.max(s.y)) for s in series))

    def px(x: float) -> float:
        return left + x / x_max * (w - left - right)

    def py(y: float) -> float:
        return h - bottom - y / y_max * (h - top - bottom)

    parts = [f'<line x1="{left}" y1="{py(0)}" x2="{w - right}" y2="{py(0)}" stroke="#333"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{py(0)}" stroke="#333"/>']
    for t in _ticks(x_max):
        parts.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top}" y2="{py(0) + 4}" stroke="#eee"/>'
                     f'<text x="{px(t):.1f}" y="{py(0) + 16}" text-anchor="middle">{t:g}</text>')
    for v in _ticks(y_max):
        parts.append(f'<line x1="{left - 4}" x2="{w - right}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#eee"/>'
                     f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    for i, x in enumerate(marks_x, 1):
        parts.append(f'<line class="mark" x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{top}" y2="{py(0)}"/>'
                     f'<text x="{px(x) + 3:.1f}" y="{top + 10}" class="mark-label">{i}</text>')
    for s in series:
        drawn = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(s.x, s.y))
        data = " ".join(f"{x:.2f},{y:g}" for x, y in zip(s.x, s.y))
        parts.append(f'<polyline fill="none" stroke="{s.colour}" stroke-width="2" points="{drawn}" '
                     f'data-name="{_e(s.name)}" data-points="{data}"/>')
    parts.append(f'<text x="{(left + w - right) / 2}" y="{h - 8}" text-anchor="middle">{_e(x_label)}</text>'
                 f'<text transform="translate(14 {(top + py(0)) / 2:.1f}) rotate(-90)" '
                 f'text-anchor="middle">{_e(y_label)}</text>')
    legend = "".join(f'<span style="color:{s.colour}">■</span> {_e(s.name)} ' for s in series)
    return (f'<svg class="chart" id="{chart_id}" viewBox="0 0 {w} {h}" role="img">{"".join(parts)}</svg>'
            + (f'<p class="legend">{legend}</p>' if len(series) > 1 else ""))


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most :data:`MAX_CURVE_POINTS` points, the first and last kept."""
    if len(x) <= MAX_CURVE_POINTS:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, MAX_CURVE_POINTS).round().astype(int))
    return x[keep], y[keep]


# --- helpers ----------------------------------------------------------------------------------------
def _exit_names(result: EvacuationResult) -> dict[str, str]:
    """Exit id → its name, with the id's end added where several exits share a name (a door type's)."""
    names = [e.name or e.id for e in result.exits]
    return {e.id: f"{n} ·{e.id[-4:]}" if names.count(n) > 1 else n for e, n in zip(result.exits, names)}


def _by_margin(spaces: list[SpaceTimes]) -> list[SpaceTimes]:
    """Tightest first: no route out, then by ASET − RSET, spaces with no ASET last."""
    return sorted(spaces, key=lambda s: (_margin_s(s) if _margin_s(s) is not None else math.inf, s.name))


def _margin_s(s: SpaceTimes) -> float | None:
    if s.aset_s is None:
        return None
    return -math.inf if s.rset_s is None else s.aset_s - s.rset_s


def _table(head: list[str], rows: list[list[object]], classes: Sequence[str] = ()) -> str:
    return table([label(k) if k in LABELS else k for k in head], rows, classes)


def _s(value: float | None) -> str:
    """Seconds to one decimal; a dash for none, ∞ for never."""
    if value is None:
        return "—"
    return f"{value:.1f}" if math.isfinite(value) else ("-∞" if value < 0 else "∞")


def _clip(text: str, length: int = 24) -> str:
    return text if len(text) <= length else text[:length - 1] + "…"


CSS = BASE_CSS + """
.drill-band{position:sticky;top:0;z-index:9;background:repeating-linear-gradient(45deg,#f5b800 0 24px,#222 24px 48px);
color:#fff;text-align:center;font-weight:bold;font-size:1.3em;letter-spacing:.1em;padding:8px;
text-shadow:0 0 4px #000,0 0 2px #000}
.verdict.pass{color:#fff;background:#2a8c3a;border-radius:4px;padding:0 6px;display:inline-block}
.verdict.fail{color:#fff;background:#c62828;border-radius:4px;padding:0 6px;display:inline-block}
svg .mark{stroke:#c62828;stroke-dasharray:4 3}svg .mark-label{fill:#c62828}
@media print{.drill-band{position:fixed;left:0;right:0;-webkit-print-color-adjust:exact;print-color-adjust:exact}
body.drill{padding-top:48px}}
"""
