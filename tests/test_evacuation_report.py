"""The evacuation report: one self-contained HTML file of a real FZK-Haus fire run, and the kept-reports store."""
from __future__ import annotations

import dataclasses
import re
import struct
import zlib
from datetime import datetime, timedelta, timezone

import pytest

from rooms_ifc import sample_graph
from twin.errors import InputError
from twin.evacuation import evacuate, hazard, place_occupants
from twin.evacuation.occupants import counts_by_total
from twin.evacuation.report import label, write_report
from twin.evacuation.reports import ReportStore

ACTIONS = [(30.0, "消防队到场 Fire brigade arrives"), (5.0, "启动报警 Alarm on & PA")]


@pytest.fixture(scope="module")
def haus():
    return sample_graph("AC20-FZK-Haus.ifc")


@pytest.fixture(scope="module")
def fire_run(haus):
    """300 people and an ultrafast fire in the living room: three spaces fail, the hall jams."""
    occupants = place_occupants(haus, counts_by_total(haus, 300))
    return evacuate(haus, occupants, hazard=hazard.fire(haus, haus.place("5 Wohnen"), growth="ultrafast"))


@pytest.fixture(scope="module")
def page(fire_run, haus, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("report") / "fire.html"
    assert write_report(fire_run, haus, path, "火灾演练 Fire drill", actions=ACTIONS, pictures=[_png()]) == path
    return path.read_text(encoding="utf-8")


def _png(width: int = 4, height: int = 2) -> bytes:
    """A real (tiny, orange) PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xc8\x50\x28" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _series(page: str, chart_id: str) -> dict[str, list[tuple[float, float]]]:
    """A chart's embedded data: series name → points."""
    svg = re.search(rf'<svg class="chart" id="{chart_id}".*?</svg>', page, re.S).group(0)
    return {name: [tuple(map(float, p.split(","))) for p in points.split()]
            for name, points in re.findall(r'data-name="([^"]*)" data-points="([^"]*)"', svg)}


def test_the_scenario_fails_somewhere(fire_run):
    assert not fire_run.passed and fire_run.congestion and fire_run.stairs


def test_header_marks_the_drill_and_the_verdict(page, fire_run):
    assert '<div class="drill-band">演练 — 非真实事件 DRILL — not a real incident</div>' in page
    assert "<title>火灾演练 Fire drill</title>" in page
    assert f"<dd>{fire_run.occupants}</dd>" in page and f"<dd>{fire_run.total_time_s:.1f} s</dd>" in page
    assert '<dd class="verdict fail">未通过 FAIL</dd>' in page
    assert "火灾 fire @ 5 Wohnen" in page


def test_every_exit_stair_and_jam_is_named(page, fire_run):
    for e in fire_run.exits:
        assert f"<td>{e.name}</td><td>{e.count}</td>" in page
    for s in fire_run.stairs:
        assert f"<td>{s.name}</td><td>{s.count}</td>" in page
    for c in fire_run.congestion:
        assert f"<td>{c.name}</td><td>{c.duration_s:.1f}</td>" in page


def test_failing_spaces_are_red_rows_tightest_first(page, fire_run):
    failing = {s.name for s in fire_run.spaces if not s.passed}
    rows = re.findall(r'<tr class="(\w*)"><td>([^<]*)</td>', page.split(label("rset_aset"))[1])
    assert {name for cls, name in rows if cls == "fail"} == failing and len(failing) == 3
    assert [name for _, name in rows[:3]] == ["5 Wohnen", "7 Galerie", "1 Flur"]  # margins -171, -73, -70 s
    assert [cls for cls, _ in rows] == ["fail"] * 3 + [""] * (len(rows) - 3)


def test_curve_ends_at_everyone_evacuated(page, fire_run):
    (points,) = _series(page, "curve").values()
    assert points[0] == (0.0, 0.0)
    assert points[-1] == (pytest.approx(fire_run.total_time_s, abs=0.01), fire_run.evacuated)
    assert all(b[0] >= a[0] and b[1] >= a[1] for a, b in zip(points, points[1:]))


def test_exit_flow_bins_add_up_to_each_exits_count(page, fire_run):
    flows = _series(page, "exit-flow")
    assert set(flows) == {e.name for e in fire_run.exits if e.count}
    for e in fire_run.exits:
        steps = flows[e.name][::2]  # each 10 s bin is drawn as two points
        assert sum(n for _, n in steps) == e.count
        assert max(n for _, n in steps) <= e.max_flow_pps * 10 + 1e-9


def test_rset_aset_bars_for_every_space_with_an_aset(page, fire_run):
    chart = re.search(r'<svg class="chart" id="rset-aset".*?</svg>', page, re.S).group(0)
    for s in fire_run.spaces:
        if s.aset_s is not None:
            assert f"<title>ASET {s.aset_s:.1f} s</title>" in chart and f">{s.name}</text>" in chart


def test_the_chart_keeps_the_tightest_spaces_the_table_all(fire_run, haus, tmp_path):
    many = dataclasses.replace(fire_run, spaces=fire_run.spaces * 4)  # 28 spaces
    page = write_report(many, haus, tmp_path / "r.html", "many").read_text("utf-8")
    chart = re.search(r'<svg class="chart" id="rset-aset".*?</svg>', page, re.S).group(0)
    assert chart.count("<title>ASET") == 20 and "余量最小的 20 个空间：" in page
    assert page.count('<tr class="fail">') == 12


def test_exits_sharing_a_name_are_told_apart(fire_run, haus, tmp_path):
    same = dataclasses.replace(fire_run, exits=[dataclasses.replace(e, name="Door") for e in fire_run.exits])
    page = write_report(same, haus, tmp_path / "r.html", "same").read_text("utf-8")
    labels = {f"Door ·{e.id[-4:]}" for e in fire_run.exits}
    assert set(_series(page, "exit-flow")) == labels and all(f"<td>{n}</td>" in page for n in labels)


def test_actions_in_time_order_and_marked_on_the_curve(page):
    assert page.index("启动报警 Alarm on &amp; PA") < page.index("消防队到场 Fire brigade arrives")
    assert "<td>1</td><td>5.0</td>" in page
    assert len(re.findall(r'<line class="mark"', page)) == len(ACTIONS)


def test_self_contained(page):
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page
    assert page.count('src="data:image/png;base64,') == 1


def test_no_drill_no_band_and_a_pass(haus, tmp_path):
    result = evacuate(haus, place_occupants(haus, counts_by_total(haus, 10)))
    page = write_report(result, haus, tmp_path / "sub" / "r.html", "Routine", drill=False).read_text("utf-8")
    assert 'class="drill-band"' not in page and "演练" not in page
    assert '<dd class="verdict pass">通过 PASS</dd>' in page
    assert "<dd>无 None</dd>" in page and "无拥堵 No congestion" in page and "无问题 No problems" in page


def test_a_picture_must_be_a_png(fire_run, haus, tmp_path):
    with pytest.raises(InputError, match="PNG"):
        write_report(fire_run, haus, tmp_path / "r.html", "x", pictures=[b"GIF89a"])


def test_store_lists_reports_newest_first(fire_run, haus, tmp_path):
    store = ReportStore(tmp_path / "reports")
    assert store.list() == []
    t0 = datetime(2026, 12, 4, 10, 30, tzinfo=timezone(timedelta(hours=8)))
    old = store.save(fire_run, haus, "fire 3F", created=t0)
    new = store.save(fire_run, haus, "火灾 3F & smoke", created=t0 + timedelta(minutes=5))
    same = store.save(fire_run, haus, "fire 3F", created=t0)
    assert old.name == "2026-12-04T10-30-00_fire-3F.html" and same.name == "2026-12-04T10-30-00_fire-3F-2.html"
    assert new.name == "2026-12-04T10-35-00_火灾-3F-smoke.html"
    entries = store.list()
    assert [e.path for e in entries] == [new, same, old]
    assert entries[0].title == "火灾 3F & smoke" and entries[0].created == t0 + timedelta(minutes=5)
    assert entries[0].name == new.name


def test_store_defaults_to_the_twin_home(monkeypatch, tmp_path):
    monkeypatch.setenv("TWIN_HOME", str(tmp_path))
    assert ReportStore().folder == tmp_path / "reports"


def test_a_pdf_report_is_printed_by_chromium(fire_run, haus, tmp_path):
    """``--report FILE.pdf``: the same page, printed by the system's headless Chromium."""
    path = write_report(fire_run, haus, tmp_path / "fire.pdf", "火灾演练 Fire drill", actions=ACTIONS)
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 20_000 and b"/Page" in data
