"""One SQLite journal file a book (alarms, work orders) keeps its records in: opened in WAL mode,
its table created if missing, its rows read back."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from twin.errors import InputError


def open_journal(path: Path, schema: str, select: str, parse, what: str) -> tuple[sqlite3.Connection, list]:
    """Open (or create) the journal at ``path`` and return it with its rows run through ``parse``;
    a file that cannot be opened or read is an InputError naming ``what`` and the file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # an acknowledged change survives a power cut too
        db.execute(schema)
        return db, [parse(row) for row in db.execute(select).fetchall()]
    except (sqlite3.Error, OSError, ValueError, TypeError) as exc:
        raise InputError(f"{what} {path}: cannot open ({exc})") from None
