"""``twin backup`` and ``twin restore``: one park's records in one ``.tar.gz``, checked before restoring.

An archive holds, under these member names:

- ``live/history.sqlite``, ``live/alarms.sqlite``, ``live/workorders.sqlite``: the park's journals,
  copied with SQLite's online backup API, so a running server's databases are copied consistently;
- ``live/attachments/<order>/<file>``: the work orders' attachments;
- ``audit/…`` and ``audit.jsonl``: the audit log of the data directory (monthly files, and the
  single file of older versions);
- ``users/<file>``: a users file, when ``--users`` named one;
- ``manifest.json`` (last): ``{"format", "twin_version", "created_at", "park", "users_file",
  "members": {name: {"sha256", "size"}}}``.

The broker's persistence is left out: it holds retained device values, which the devices send again.

:func:`restore` reads the whole archive and checks every member against the manifest before it
writes anything; it refuses while a server holds the park's live folder (the folder's lock, see
:func:`live.runtime.lock_folder`), and refuses to replace any existing file unless forced.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

from twin.errors import InputError

FORMAT = "twin-backup/1"
MANIFEST = "manifest.json"
JOURNALS = ("history.sqlite", "alarms.sqlite", "workorders.sqlite")
CHUNK = 1 << 20
#: What reading a damaged or truncated .tar.gz raises.
DAMAGED = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)
#: A progress callback: percent done.
Progress = Callable[[int], None]


def add_commands(sub: argparse._SubParsersAction) -> None:
    """The ``backup`` and ``restore`` commands of the ``twin`` CLI."""
    s = sub.add_parser("backup", help="a park's journals, attachments and audit log in one .tar.gz")
    s.add_argument("park", metavar="SCENE_OR_PARK", help="a scene folder or scene.toml, or a park's name")
    s.add_argument("dest", type=Path, metavar="DEST.tar.gz")
    s.add_argument("--users", type=Path, metavar="FILE", help="also keep this users file")
    s.set_defaults(run=cmd_backup)
    s = sub.add_parser("restore", help="put a twin backup back (checked first; the park's server stopped)")
    s.add_argument("archive", type=Path, metavar="ARCHIVE")
    s.add_argument("--force", action="store_true", help="replace files that are already there")
    s.add_argument("--users", type=Path, metavar="FILE", help="where the users file goes (default: where it was)")
    s.set_defaults(run=cmd_restore)


def cmd_backup(args: argparse.Namespace) -> None:
    from twin.cli import err, progress_bar

    park = park_name(args.park)
    with progress_bar("backing up") as progress:
        manifest = backup(park, args.dest, args.users, progress)
    size = sum(m["size"] for m in manifest["members"].values())
    err.print(f"wrote {args.dest}: park {park}, {len(manifest['members'])} files, {size:,} bytes",
              highlight=False, markup=False, soft_wrap=True)


def cmd_restore(args: argparse.Namespace) -> None:
    from twin.cli import err, progress_bar

    with progress_bar("restoring") as progress:
        manifest = restore(args.archive, args.force, args.users, progress)
    err.print(f"restored {len(manifest['members'])} files of park {manifest['park']} "
              f"(backed up {manifest['created_at']})", highlight=False, markup=False, soft_wrap=True)


def park_name(scene_or_name: str) -> str:
    """The park a scene folder or file names, else the argument itself taken as a park's name."""
    from twin.scene import read_scene

    return read_scene(scene_or_name).name if Path(scene_or_name).exists() else scene_or_name


def twin_version() -> str:
    try:
        return version("twin")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


# --- backup -------------------------------------------------------------------------------------------
class _Meter:
    """Counts bytes done of a known total and reports the percent."""

    def __init__(self, total: int, progress: Progress):
        self.total, self.done, self.progress = max(total, 1), 0, progress

    def add(self, n: int) -> None:
        self.done += n
        self.progress(min(100, self.done * 100 // self.total))


class _Hashing:
    """A binary file read through: the sha256 of what was read; each read counted."""

    def __init__(self, file: IO[bytes], count: Callable[[int], None]):
        self.file, self.count, self.sha = file, count, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.file.read(n)
        self.sha.update(data)
        self.count(len(data))
        return data


def copy_journal(source: Path, copy: Path) -> Path:
    """A consistent copy of a SQLite journal, even while a server writes it (the online backup API)."""
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    dst = sqlite3.connect(copy)
    try:
        src.backup(dst)
    except sqlite3.Error as exc:
        raise InputError(f"{source}: cannot copy ({exc})") from None
    finally:
        dst.close()
        src.close()
    return copy


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def backup(park: str, dest: Path, users: Path | None = None, progress: Progress = lambda _: None) -> dict[str, Any]:
    """Write ``park``'s archive to ``dest`` (whole or not at all) and return its manifest."""
    from live.runtime import live_folder  # not at import: the CLI starts quicker
    from twin.web.access import data_dir

    folder = live_folder(park)
    if not folder.is_dir():
        known = sorted(p.name for p in folder.parent.iterdir()) if folder.parent.is_dir() else []
        raise InputError(f"{folder}: no live data for park {park!r}"
                         + (f" (live folders there: {', '.join(known)})" if known else ""))
    if users is not None and not users.is_file():
        raise InputError(f"--users {users}: no such file")
    home, journals = data_dir(), [folder / name for name in JOURNALS if (folder / name).is_file()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".twin-backup-") as staging:
        others = [(f"live/{p.relative_to(folder).as_posix()}", p) for p in _files(folder / "attachments")]
        others += [(p.relative_to(home).as_posix(), p) for p in _files(home / "audit") + [home / "audit.jsonl"]
                   if p.is_file()]
        others += [(f"users/{users.name}", users)] if users is not None else []
        meter = _Meter(2 * sum(p.stat().st_size for p in journals) + sum(p.stat().st_size for _, p in others),
                       progress)
        members = []
        for journal in journals:
            members.append((f"live/{journal.name}", copy_journal(journal, Path(staging) / journal.name)))
            meter.add(journal.stat().st_size)
        head = {"format": FORMAT, "twin_version": twin_version(),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "park": park,
                "users_file": str(users.resolve()) if users is not None else None}
        with _replacing(dest) as part:
            return _write_archive(part, members + others, head, meter)


@contextmanager
def _replacing(dest: Path) -> Iterator[Path]:
    """A file beside ``dest`` to write, moved onto ``dest`` when the block succeeds, else removed."""
    part = dest.with_name(dest.name + ".part")
    try:
        yield part
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)


def _write_archive(path: Path, files: list[tuple[str, Path]], head: dict[str, Any], meter: _Meter) -> dict[str, Any]:
    members: dict[str, dict[str, Any]] = {}
    with tarfile.open(path, "w:gz", dereference=True) as tar:
        for name, file in files:
            info = tar.gettarinfo(file, arcname=name)
            with file.open("rb") as fh:
                reader = _Hashing(fh, meter.add)
                tar.addfile(info, reader)
            members[name] = {"sha256": reader.sha.hexdigest(), "size": info.size}
        manifest = {**head, "members": members}
        data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime = len(data), int(datetime.now(UTC).timestamp())
        tar.addfile(info, io.BytesIO(data))
    return manifest


# --- restore ------------------------------------------------------------------------------------------
@contextmanager
def _reading(archive: Path, progress: Progress, start: int, span: int) -> Iterator[tuple[tarfile.TarFile, Callable]]:
    """The archive open for streaming, and a count callback reporting ``start`` + ``span`` × the share
    of the compressed file read; a damaged archive is one InputError naming it."""
    try:
        raw = archive.open("rb")
    except OSError as exc:
        raise InputError(f"{archive}: cannot open ({exc.strerror})") from None
    size = max(archive.stat().st_size, 1)
    try:
        with raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
            yield tar, lambda _n: progress(start + raw.tell() * span // size)
    except DAMAGED as exc:
        raise InputError(f"{archive}: not a readable .tar.gz ({exc})") from None


def _member_name(archive: Path, member: tarfile.TarInfo) -> str:
    """A member's name when it is a regular file with a plain relative path; InputError otherwise."""
    if not member.isreg() or any(part in ("..", ".", "") for part in member.name.split("/")):
        raise InputError(f"{archive}: member {member.name}: not a plain file of a twin backup")
    return member.name


def _read(archive: Path, tar: tarfile.TarFile, member: tarfile.TarInfo, count: Callable,
          sink: Callable[[bytes], None] = lambda _: None) -> str:
    """Stream a member into ``sink`` and return its sha256; a damaged stream names the member."""
    try:
        reader = _Hashing(tar.extractfile(member), count)
        while chunk := reader.read(CHUNK):
            sink(chunk)
    except DAMAGED as exc:
        raise InputError(f"{archive}: member {member.name}: damaged ({exc})") from None
    return reader.sha.hexdigest()


def verify(archive: Path, progress: Progress = lambda _: None, start: int = 0, span: int = 100) -> dict[str, Any]:
    """The archive's manifest, once every member was read and matches it; else one InputError
    naming the archive and the member at fault. Writes nothing."""
    found: dict[str, str] = {}
    manifest_data = b""
    with _reading(archive, progress, start, span) as (tar, count):
        for member in tar:
            name = _member_name(archive, member)
            if name in found or name == MANIFEST and manifest_data:
                raise InputError(f"{archive}: member {name} appears twice")
            if name == MANIFEST:
                manifest_data = tar.extractfile(member).read()
            else:
                found[name] = _read(archive, tar, member, count)
    manifest = _manifest(archive, manifest_data)
    members = manifest["members"]
    missing = sorted(members.keys() - found.keys())
    if missing:
        raise InputError(f"{archive}: member {missing[0]} is missing")
    for name, sha in found.items():
        if name not in members:
            raise InputError(f"{archive}: member {name} is not in {MANIFEST}")
        if sha != members[name]["sha256"]:
            raise InputError(f"{archive}: member {name} is corrupt (its sha256 differs from {MANIFEST})")
    return manifest


def _manifest(archive: Path, data: bytes) -> dict[str, Any]:
    if not data:
        raise InputError(f"{archive}: no {MANIFEST}; not a twin backup")
    try:
        manifest = json.loads(data)
        if (manifest["format"] == FORMAT and isinstance(manifest["park"], str)
                and all(isinstance(m["sha256"], str) for m in manifest["members"].values())):
            return manifest
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    raise InputError(f"{archive}: {MANIFEST}: not a {FORMAT} manifest")


def destination(archive: Path, name: str, manifest: dict[str, Any], folder: Path, home: Path,
                users: Path | None) -> Path:
    """Where a member goes back to: the park's live ``folder``, the data directory ``home``, the users file."""
    top, _, rest = name.partition("/")
    if top == "live" and rest:
        return folder / rest
    if top == "audit" and rest or name == "audit.jsonl":
        return home / name
    if top == "users" and rest and "/" not in rest and (users or manifest.get("users_file")):
        return users or Path(manifest["users_file"])
    raise InputError(f"{archive}: member {name}: not a twin backup member")


def restore(archive: Path, force: bool = False, users: Path | None = None,
            progress: Progress = lambda _: None) -> dict[str, Any]:
    """Check the whole archive (:func:`verify`), then write its files back; return its manifest.
    Refuses (InputError) while a server holds the park's live folder, and when a file is already
    there unless ``force``. A journal's old ``-wal`` and ``-shm`` files go with it."""
    from live.runtime import live_folder, lock_folder
    from twin.web.access import data_dir

    if not archive.is_file():
        raise InputError(f"{archive}: no such file")
    manifest = verify(archive, progress, 0, 50)
    folder = live_folder(manifest["park"])
    places = {name: destination(archive, name, manifest, folder, data_dir(), users) for name in manifest["members"]}
    with lock_folder(folder, exclusive=True):
        there = [path for path in places.values() if path.exists()]
        if there and not force:
            raise InputError(f"{there[0]}: already there ({len(there)} of the archive's {len(places)} files exist); "
                             f"restore --force replaces them")
        with _reading(archive, progress, 50, 50) as (tar, count):
            for member in tar:
                if member.name != MANIFEST:
                    _put(archive, tar, member, count, places, manifest["members"])
    return manifest


def _put(archive: Path, tar: tarfile.TarFile, member: tarfile.TarInfo, count: Callable,
         places: dict[str, Path], members: dict[str, dict[str, Any]]) -> None:
    """Write one member to its place through a temporary file, replacing it only when its sha256 holds."""
    changed = InputError(f"{archive}: member {member.name} changed while it was restored")
    if member.name not in places:
        raise changed
    path = places[member.name]
    part = path.with_name(path.name + ".restoring")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with part.open("wb") as fh:
            sha = _read(archive, tar, member, count, fh.write)
        if sha != members[member.name]["sha256"]:
            raise changed
        if path.suffix == ".sqlite":
            for stale in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                stale.unlink(missing_ok=True)
        os.replace(part, path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror})") from None
    finally:
        part.unlink(missing_ok=True)
