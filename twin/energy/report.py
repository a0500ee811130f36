"""The monthly energy and carbon report as one self-contained HTML page: the park's figures, a bar chart
and a table of the buildings, then per building its daily consumption and its tenants; charts are
inline SVG, nothing is fetched from anywhere.

>>> write_report(summary, days, "energy-2026-11.html", "示范科创园 2026-11")   # doctest: +SKIP
"""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from twin.energy.rollup import Rollup
from twin.energy.summary import EnergyFigures, EnergySummary, shown
from twin.report_html import CSS, bar_chart, escape, made_at, table

# Simplified Chinese first, English second, as in the evacuation report.
LABELS: dict[str, tuple[str, str]] = {
    "report": ("能耗与碳排放月报", "Energy and carbon report"), "period": ("统计期", "Period"),
    "park_kwh": ("园区用电 (kWh)", "Park electricity (kWh)"), "park_tco2e": ("碳排放 (tCO2e)", "Emissions (tCO2e)"),
    "factor": ("排放因子 (kgCO2e/kWh)", "Emission factor (kgCO2e/kWh)"), "made": ("生成时间", "Made"),
    "buildings": ("各楼栋", "Buildings"), "building": ("楼栋", "Building"), "tenant": ("租户", "Tenant"),
    "meters": ("电能表", "Meters"), "kwh": ("用电 (kWh)", "Use (kWh)"),
    "submetered": ("分项计量 (kWh)", "Sub-metered (kWh)"), "unmetered": ("未分项 (kWh)", "Unmetered (kWh)"),
    "tco2e": ("碳排放 (tCO2e)", "Emissions (tCO2e)"), "area": ("面积 (m²)", "Area (m²)"),
    "intensity": ("能耗强度 (kWh/m²)", "Intensity (kWh/m²)"), "daily": ("逐日用电 (kWh)", "Daily use (kWh)"),
    "tenants": ("租户", "Tenants"), "no_tenants": ("无租户电能表", "No tenant meters"),
    "problems": ("问题", "Problems"), "no_problems": ("无问题", "No problems"), "method": ("方法", "Method"),
}
METHOD = ("用电量为累计读数在统计期首末的差值（读数下降视为换表或清零，从新读数续计）；楼栋总量取其总表，分项计量为其下级表之和，"
          "差值为公共区域与损耗。碳排放 = 用电量 × 排放因子。能耗强度 = 用电量 ÷ 建筑面积（租户为租赁面积）。 "
          "Use is the rise of each meter's cumulative reading over the period (a drop is a meter reset or "
          "replacement: counting goes on from the new value); a building's total is its main meter, "
          "sub-metered the sum of the meters below it, the difference common areas and losses. "
          "tCO2e = kWh × factor / 1000; intensity = kWh / floor area (tenants: leased area).")


def label(key: str) -> str:
    zh, en = LABELS[key]
    return f"{zh} {en}"


def write_report(summary: EnergySummary, days: Rollup, path: str | Path, title: str,
                 created: datetime | None = None) -> Path:
    """Write the report of ``summary`` (with ``days``, the same range by day, for the daily charts) to
    ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(summary, days, title, made_at(created)), encoding="utf-8")
    return path


def report_html(summary: EnergySummary, days: Rollup, title: str, created: datetime) -> str:
    """The whole report as one HTML document."""
    body = [_header(summary, title, created), _section("buildings", _buildings(summary))]
    body += [_building(summary, b, days) for b in summary.buildings]
    body.append(_section("problems", _problems(summary)))
    body.append(_section("method", f"<p>{escape(METHOD)}</p>"))
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n")


def _header(summary: EnergySummary, title: str, created: datetime) -> str:
    last_day = summary.end - timedelta(microseconds=1)
    facts = [("period", f"{summary.start:%Y-%m-%d %H:%M} – {last_day:%Y-%m-%d %H:%M} ({summary.start:%Z})"),
             ("park_kwh", shown(summary.park.kwh, 1)), ("park_tco2e", shown(summary.park.tco2e, 3)),
             ("factor", f"{summary.kg_co2e_per_kwh:g}"), ("made", created.strftime("%Y-%m-%d %H:%M"))]
    cells = "".join(f"<div><dt>{escape(label(k))}</dt><dd>{escape(v)}</dd></div>" for k, v in facts)
    return f"<header><h1>{escape(title)}</h1><dl>{cells}</dl></header>"


def _section(key: str, content: str, heading: str | None = None) -> str:
    return f"<section><h2>{escape(heading or label(key))}</h2>{content}</section>"


def _buildings(summary: EnergySummary) -> str:
    chart = bar_chart("buildings", [b.name for b in summary.buildings], [b.kwh for b in summary.buildings],
                      label("kwh"))
    rows = [[b.name, " ".join(b.meters), shown(b.kwh, 1), shown(b.submetered_kwh, 1), shown(b.unmetered_kwh, 1),
             shown(b.tco2e, 3), shown(b.area_m2, 0), shown(b.kwh_per_m2, 2)] for b in summary.buildings]
    head = ["building", "meters", "kwh", "submetered", "unmetered", "tco2e", "area", "intensity"]
    return chart + table([label(k) for k in head], rows)


def _building(summary: EnergySummary, building: EnergyFigures, days: Rollup) -> str:
    """A building's daily use and its tenants."""
    mains = [m.id for m in days.tree.mains(building.id)]
    daily = days.total_of(mains)
    names = [f"{edge:%d}" for edge in days.edges[:-1]]
    chart = f"<h3>{escape(label('daily'))}</h3>" + bar_chart(f"daily-{_slug(building.id)}", names, list(daily),
                                                             label("kwh"), "#2ca02c")
    tenants = [t for t in summary.tenants if t.building == building.id]
    rows = [[t.name, " ".join(t.meters), shown(t.kwh, 1), shown(t.tco2e, 3), shown(t.area_m2, 1),
             shown(t.kwh_per_m2, 2)] for t in tenants]
    head = ["tenant", "meters", "kwh", "tco2e", "area", "intensity"]
    listed = (table([label(k) for k in head], rows) if rows else f"<p>{escape(label('no_tenants'))}</p>")
    return _section("building", chart + f"<h3>{escape(label('tenants'))}</h3>" + listed, building.name)


def _problems(summary: EnergySummary) -> str:
    if not summary.problems:
        return f"<p>{escape(label('no_problems'))}</p>"
    return "<ul>" + "".join(f"<li>{escape(p)}</li>" for p in summary.problems) + "</ul>"


def _slug(node_id: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in node_id)
