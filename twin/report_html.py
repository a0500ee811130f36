"""Building blocks of the self-contained HTML reports (evacuation, energy): escaping, tables, chart
axes, a bar chart as inline SVG, the shared style sheet. Nothing is fetched from anywhere."""
from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import datetime


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def made_at(created: datetime | None = None) -> datetime:
    """A report's time: ``created`` (a naive one taken as local time), else now; always zone-aware."""
    created = created or datetime.now()
    return created if created.tzinfo is not None else created.astimezone()


def table(head: Sequence[str], rows: Sequence[Sequence[object]], classes: Sequence[str] = ()) -> str:
    """An HTML table: ``head`` as written, one ``<tr>`` per row (with its class from ``classes``)."""
    th = "".join(f"<th>{escape(k)}</th>" for k in head)
    tr = "".join(f'<tr class="{classes[i] if classes else ""}">' + "".join(f"<td>{escape(str(c))}</td>" for c in row)
                 + "</tr>" for i, row in enumerate(rows))
    return f"<table><thead><tr>{th}</tr></thead><tbody>{tr}</tbody></table>"


def bar_chart(chart_id: str, labels: Sequence[str], values: Sequence[float], y_label: str,
              colour: str = "#1f77b4") -> str:
    """An SVG column chart, one bar per label (none for NaN), each bar's value in its tooltip and in
    ``data-value``."""
    w, h, left, right, top, bottom = 720, 280, 64, 16, 16, 40
    y_max = nice_max(max((v for v in values if math.isfinite(v)), default=0.0))
    slot = (w - left - right) / max(len(labels), 1)

    def py(y: float) -> float:
        return h - bottom - y / y_max * (h - top - bottom)

    parts = [f'<line x1="{left}" y1="{py(0)}" x2="{w - right}" y2="{py(0)}" stroke="#333"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{py(0)}" stroke="#333"/>']
    for v in ticks(y_max):
        text = f"{v:,.0f}" if v >= 1000 else f"{v:g}"
        parts.append(f'<line x1="{left - 4}" x2="{w - right}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#eee"/>'
                     f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{text}</text>')
    for i, (name, value) in enumerate(zip(labels, values)):
        x = left + i * slot
        parts.append(f'<text x="{x + slot / 2:.1f}" y="{py(0) + 14}" text-anchor="middle">{escape(name)}</text>')
        if math.isfinite(value):
            parts.append(f'<rect x="{x + slot * 0.15:.1f}" y="{py(max(value, 0.0)):.1f}" width="{slot * 0.7:.1f}" '
                         f'height="{py(0) - py(max(value, 0.0)):.1f}" fill="{colour}" data-label="{escape(name)}" '
                         f'data-value="{value:g}"><title>{escape(name)}: {value:,.1f}</title></rect>')
    parts.append(f'<text transform="translate(14 {(top + py(0)) / 2:.1f}) rotate(-90)" '
                 f'text-anchor="middle">{escape(y_label)}</text>')
    return f'<svg class="chart" id="{chart_id}" viewBox="0 0 {w} {h}" role="img">{"".join(parts)}</svg>'


def nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ step multiple at or above ``value`` (1 for nothing)."""
    if not value > 0:
        return 1.0
    step = _step(value)
    return math.ceil(value / step - 1e-9) * step


def ticks(top: float) -> list[float]:
    """Tick values from 0 to ``top`` (a :func:`nice_max`), about five."""
    step = _step(top)
    return [round(k * step, 9) for k in range(int(round(top / step)) + 1)]


def _step(value: float) -> float:
    """A tick step giving about five ticks up to ``value``."""
    raw = value / 5
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


CSS = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif;margin:0;color:#222;
background:#fff}
header,section{max-width:980px;margin:0 auto;padding:12px 24px}
h1{margin:8px 0 12px;font-size:1.6em}h2{font-size:1.2em;border-bottom:2px solid #ddd;padding-bottom:4px}
dl{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:8px;margin:0}
dl div{background:#f4f6f8;border-radius:6px;padding:6px 10px}dt{font-size:.8em;color:#666}
dd{margin:2px 0 0;font-size:1.1em;font-weight:600}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}th{background:#f4f6f8}
tr.fail td{background:#fde2e2;color:#9b1c1c;font-weight:600}
svg.chart{width:100%;height:auto;font-size:11px;margin:8px 0}
.legend{font-size:.85em;margin:0}
img{max-width:100%;margin:6px 0;border:1px solid #ddd}
@media print{section{break-inside:avoid}}
"""
