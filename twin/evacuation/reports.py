"""Kept evacuation reports: one HTML file each in ``<twin home>/reports/`` (``$TWIN_HOME``, else ``./.twin``),
named by when it was made and its title, e.g. ``2026-12-04T10-30-00_fire-3F.html``.

>>> ReportStore().save(result, graph, "fire 3F")  # doctest: +SKIP
"""
from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from twin.evacuation.graph import EvacuationGraph
from twin.evacuation.report import CREATED_META, made_at, write_report
from twin.evacuation.resources import Resource
from twin.evacuation.result import EvacuationResult
from twin.web.access import data_dir

HEAD_CHARS = 4096  #: a report's <title> and created <meta> lie within its first this many characters
STAMP = "%Y-%m-%dT%H-%M-%S"


@dataclass(frozen=True)
class ReportEntry:
    name: str  # file name
    path: Path
    created: datetime
    title: str


class ReportStore:
    """A folder of kept reports."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder is not None else data_dir() / "reports"

    def save(self, result: EvacuationResult, graph: EvacuationGraph, title: str, drill: bool = True,
             actions: Sequence[tuple[float, str]] = (), pictures: Sequence[bytes] = (),
             created: datetime | None = None, resources: Sequence[Resource] = ()) -> Path:
        """Write a new report into the folder (never over another) and return its path."""
        created = made_at(created)
        return write_report(result, graph, self._free_path(created, title), title, drill, actions, pictures,
                            created, resources)

    def list(self) -> list[ReportEntry]:
        """Every kept report, newest first (of two made the same second, the later written)."""
        entries = [_entry(p) for p in self.folder.glob("*.html")] if self.folder.is_dir() else []
        return sorted(entries, key=lambda e: (e.created, e.path.stat().st_mtime_ns), reverse=True)

    def _free_path(self, created: datetime, title: str) -> Path:
        stem = f"{created.strftime(STAMP)}_{slug(title)}"
        path, n = self.folder / f"{stem}.html", 1
        while path.exists():
            n += 1
            path = self.folder / f"{stem}-{n}.html"
        return path


def slug(title: str) -> str:
    """A file-name-safe form of a title: word characters (any script), dots and dashes."""
    return re.sub(r"[^\w.-]+", "-", title).strip("-.")[:60] or "report"


def _entry(path: Path) -> ReportEntry:
    """A kept report, its title and creation time read from its head (file time when missing)."""
    with path.open(encoding="utf-8", errors="replace") as f:
        head = f.read(HEAD_CHARS)
    title = re.search(r"<title>(.*?)</title>", head, re.S)
    stamp = re.search(rf'<meta name="{CREATED_META}" content="([^"]+)"', head)
    created = (datetime.fromisoformat(stamp.group(1)) if stamp
               else datetime.fromtimestamp(path.stat().st_mtime).astimezone())
    return ReportEntry(path.name, path, created, html.unescape(title.group(1)) if title else path.stem)
