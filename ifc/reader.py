"""Open an IFC file safely: one clear error for bad input, schema aliases for IFC4X3 drafts."""
from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

import ifcopenshell

from twin.errors import InputError

log = logging.getLogger(__name__)

SUPPORTED_SCHEMAS = ("IFC2X3", "IFC4", "IFC4X3_ADD2")
#: Header names of IFC 4.3 drafts and addenda that open as IFC4X3_ADD2 (with a warning).
IFC4X3_ALIASES = ("IFC4X3", "IFC4X3_ADD1", "IFC4X3_RC1", "IFC4X3_RC2", "IFC4X3_RC3", "IFC4X3_RC4", "IFC4X3_TC1")
_SCHEMA_RE = re.compile(rb"FILE_SCHEMA\s*\(\s*\(\s*'([^']*)'", re.IGNORECASE)
_HEAD_BYTES = 64 * 1024


class IfcReadError(InputError):
    """A file that cannot be read as IFC; the message names the file and the cause."""

    def __init__(self, path: Path | str, cause: str):
        self.path, self.cause = Path(path), cause
        super().__init__(f"{path}: {cause}")


def _header_schema(path: Path, head: bytes) -> str:
    if not head.lstrip().startswith(b"ISO-10303-21;"):
        raise IfcReadError(path, "not an IFC file (no ISO-10303-21 STEP header)")
    match = _SCHEMA_RE.search(head)
    if not match:
        raise IfcReadError(path, "IFC header has no FILE_SCHEMA")
    return match.group(1).decode("ascii", "replace").strip().upper()


def _check_complete(path: Path) -> None:
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(0, size - 4096))
        tail = fh.read()
    # Comments or blank lines may follow the trailer; the trailer itself must be there.
    if b"END-ISO-10303-21" not in tail.upper():
        raise IfcReadError(path, "truncated IFC file (no END-ISO-10303-21 trailer)")


def schema_of(declared: str) -> str:
    """The schema a header name opens as (``IFC2X3_TC1`` → ``IFC2X3``, ``IFC4X3_RC2`` → ``IFC4X3_ADD2``)."""
    if declared in IFC4X3_ALIASES:
        return "IFC4X3_ADD2"
    for prefix, schema in (("IFC2X3_", "IFC2X3"), ("IFC4_", "IFC4")):
        if declared.startswith(prefix):
            return schema
    return declared


def open_ifc(path: str | os.PathLike) -> ifcopenshell.file:
    """Open an IFC-SPF file, or raise :class:`IfcReadError` naming the file and the cause.

    Checks what ifcopenshell lets through silently (a truncated file opens as a partial model),
    and opens schema variants (IFC4X3_RC2 → IFC4X3_ADD2, IFC4_ADD2 → IFC4…) with a warning.
    """
    path = Path(path)
    if not path.exists():
        raise IfcReadError(path, "no such file")
    if path.is_dir():
        raise IfcReadError(path, "is a directory, not an IFC file")
    if path.stat().st_size == 0:
        raise IfcReadError(path, "empty file")
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
    declared = _header_schema(path, head)
    schema = schema_of(declared)
    if schema not in SUPPORTED_SCHEMAS:
        raise IfcReadError(path, f"unsupported IFC schema {declared!r} (supported: {', '.join(SUPPORTED_SCHEMAS)})")
    _check_complete(path)
    try:
        if schema != declared:
            log.warning("%s: header schema %s opened as %s", path, declared, schema)
            return _open_as(path, declared, schema)
        return ifcopenshell.open(str(path))
    except IfcReadError:
        raise
    except Exception as exc:  # ifcopenshell raises bare Error/RuntimeError for parse failures
        raise IfcReadError(path, f"cannot parse IFC: {exc}") from exc


def _open_as(path: Path, declared: str, schema: str) -> ifcopenshell.file:
    """Open a copy whose header names ``schema`` instead of ``declared`` (source is never modified)."""
    data = path.read_bytes()
    header_end = data.find(b"ENDSEC;")
    patched = data[:header_end].replace(f"'{declared}'".encode(), f"'{schema}'".encode(), 1)
    with tempfile.NamedTemporaryFile(suffix=".ifc", delete=False) as tmp:
        tmp.write(patched)
        tmp.write(data[header_end:])
    try:
        return ifcopenshell.open(tmp.name)
    finally:
        os.unlink(tmp.name)
