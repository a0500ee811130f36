"""Compile a scene once, then load it from a disk cache (design: "compile → render batches, cached").

The cache key hashes the scene file, every file it names and the compiler's own source, so any change
to a source byte or to the code rebuilds. An entry is one file, written atomically::

    b"TWINPARK" | uint32 format version | uint64 body length | sha256(body) (32 bytes) | body

The body is a pickle (protocol 5) of the park in columns: node fields as lists or arrays (100k node
objects pickle slowly), batch payloads as bytes. Open IFC models (``park.sources``) are not stored;
property reads reopen the file on first use (:class:`ifc.properties.IfcProperties`).

>>> park = compile_scene("scenes/demo")  # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import gc
import hashlib
import logging
import os
import pickle
import struct
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import ifcopenshell
import numpy as np

from ifc.properties import IfcProperties
from models.files import MODELS_DIR, model_files
from twin.batches import RenderBatch, decode
from twin.park import Node, Park
from twin.scene import load_park, read_scene, scene_file

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MAGIC = b"TWINPARK"
_HEADER = struct.Struct(f"<{len(MAGIC)}sIQ32s")
_SUFFIX = ".park"
_CODE_PACKAGES = ("twin", "ifc", "gis", "models")
_NOT_COMPILER = ("twin/web/", "twin/cli.py")  # source in those packages that a compile never runs
_ROOT = Path(__file__).resolve().parents[1]
#: Park attributes stored apart (nodes, batches) or never (open models, indexes built on use).
_NOT_PARK_STATE = ("nodes", "batches", "sources", "_indexes")
#: RenderBatch fields that its payload carries (the rest are stored beside it).
_PAYLOAD_FIELDS = ("key", "category", "building", "storey", "points_m", "triangles", "cell_node", "node_ids")


class CacheError(ValueError):
    """A cache entry that cannot be read (truncated, corrupt, or of another format)."""


# --- the key ------------------------------------------------------------------------------------
def _file_digest(path: Path) -> bytes:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").digest()


@cache
def code_version() -> str:
    """A hash of the compiler's source (packages twin, ifc, gis, models, less the web app and CLI), of
    the device model files in ``models/``, and of the ifcopenshell and Python versions."""
    h = hashlib.sha256(f"{ifcopenshell.version} {sys.version_info[:2]}".encode())
    for package in _CODE_PACKAGES:
        for path in sorted((_ROOT / package).rglob("*.py")):
            name = path.relative_to(_ROOT).as_posix()
            if not name.startswith(_NOT_COMPILER):
                h.update(name.encode() + b"\0" + _file_digest(path))
    for path in model_files(MODELS_DIR):
        h.update(path.relative_to(_ROOT).as_posix().encode() + b"\0" + _file_digest(path))
    return h.hexdigest()


def _sidecars(path: Path) -> list[Path]:
    """A Shapefile's sibling files (.shx, .dbf, .prj, .cpg…); a folder's files (a .gdb); else the file."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    if path.suffix.lower() == ".shp" and path.parent.is_dir():
        prefix = path.stem.lower() + "."
        return sorted(p for p in path.parent.iterdir() if p.name.lower().startswith(prefix) and p.is_file())
    return [path]


def scene_sources(path: str | os.PathLike) -> list[Path]:
    """The scene file and every file it names (IFC, layers with their sidecars, DEM, devices, leases)."""
    file = scene_file(path)
    if file.suffix.lower() != ".toml":
        return [file]
    return [source for named in read_scene(file).files() for source in _sidecars(named)]


def cache_key(scene_path: str | os.PathLike) -> str:
    """A hash of the scene's content (scene file and every file it names), the cache format and the code."""
    file = scene_file(scene_path)
    h = hashlib.sha256(f"{FORMAT_VERSION} {code_version()}".encode())
    for source in scene_sources(file):
        name = os.path.relpath(source, file.parent) if source != file else ""
        digest = _file_digest(source) if source.is_file() else b"missing"
        h.update(name.encode() + b"\0" + digest)
    return h.hexdigest()[:32]


# --- serialising a park -------------------------------------------------------------------------
def _columns(park: Park, base: Path) -> dict[str, Any]:
    """Node fields as columns; bounds as one array; IFC property loaders as (file index, step id)."""
    nodes = list(park.nodes.values())
    names = [f.name for f in dataclasses.fields(Node) if f.name not in ("bounds_m", "properties_loader")]
    columns: dict[str, Any] = {name: [getattr(n, name) for n in nodes] for name in names}
    placed = np.array([n.bounds_m is not None for n in nodes], dtype=bool)
    columns["bounds_m"] = (placed, np.array([n.bounds_m for n in nodes if n.bounds_m is not None],
                                            dtype=np.float64).reshape(-1, 6))
    files: dict[Path, int] = {}
    loader_file = np.full(len(nodes), -1, dtype=np.int32)
    loader_step = np.zeros(len(nodes), dtype=np.int64)
    other: dict[int, Any] = {}  # loaders of other (picklable) classes, by node index
    for i, node in enumerate(nodes):
        loader = node.properties_loader
        if type(loader) is IfcProperties:
            loader_file[i] = files.setdefault(loader.path, len(files))
            loader_step[i] = loader.step_id
        elif loader is not None:
            other[i] = loader
    columns["properties_loader"] = ([_relative(p, base) for p in files], loader_file, loader_step, other)
    return columns


def _relative(path: Path, base: Path) -> str:
    """``path`` relative to the scene folder when possible, so a moved scene folder keeps working."""
    try:
        return os.path.relpath(path, base)
    except ValueError:  # another drive
        return str(path)


def _nodes(columns: dict[str, Any], base: Path) -> dict[str, Node]:
    """Inverse of :func:`_columns`."""
    placed, boxes = columns.pop("bounds_m")
    box_rows = iter(map(tuple, boxes.tolist()))
    columns["bounds_m"] = [next(box_rows) if p else None for p in placed.tolist()]
    paths, loader_file, loader_step, other = columns.pop("properties_loader")
    readers = [_reader_factory(base / p) for p in paths]
    loaders: list[Any] = [readers[f](s) if f >= 0 else None
                          for f, s in zip(loader_file.tolist(), loader_step.tolist())]
    for i, loader in other.items():
        loaders[i] = loader
    columns["properties_loader"] = loaders
    names = list(columns)
    nodes: dict[str, Node] = {}
    new = object.__new__
    for values in zip(*columns.values()):
        node = new(Node)
        node.__dict__ = dict(zip(names, values))
        nodes[node.id] = node
    return nodes


def _reader_factory(path: Path) -> Callable[[int], IfcProperties]:
    """IfcProperties of one file, made by copying one instance: ``__init__`` resolves the path each
    time, and 100k path resolutions take a second."""
    state = vars(IfcProperties(path, 0))

    def make(step: int) -> IfcProperties:
        reader = object.__new__(IfcProperties)
        reader.__dict__ = {**state, "step_id": step}
        return reader
    return make


def _batch_record(batch: RenderBatch) -> tuple[bytes, str, dict[str, Any]]:
    """A batch as its payload, digest and any fields the payload does not carry."""
    extra = {f.name: getattr(batch, f.name) for f in dataclasses.fields(RenderBatch)
             if f.name not in _PAYLOAD_FIELDS}
    return batch.payload, batch.digest, extra


def _batch(payload: bytes, digest: str, extra: dict[str, Any]) -> RenderBatch:
    """Inverse of :func:`_batch_record`; the arrays are read-only views of the payload."""
    header, points, triangles, cell_node = decode(payload)
    batch = RenderBatch(header["key"], header["category"], header["building"], header["storey"],
                        points, triangles, cell_node, header["node_ids"], **extra)
    batch.__dict__.update(payload=payload, digest=digest)  # the cached properties, not recomputed
    return batch


def _encode(park: Park, base: Path) -> tuple[bytes, bytes]:
    """The header and body of a park's cache entry; ``base`` is the folder relative paths start from."""
    state = {k: v for k, v in vars(park).items() if k not in _NOT_PARK_STATE}
    body = pickle.dumps({"park": state, "nodes": _columns(park, base),
                         "batches": [_batch_record(b) for b in park.batches]}, protocol=5)
    return _HEADER.pack(MAGIC, FORMAT_VERSION, len(body), hashlib.sha256(body).digest()), body


def _decode(data: bytes, base: Path) -> Park:
    """Inverse of :func:`_encode`; raises :class:`CacheError` on a truncated or corrupt entry."""
    view = memoryview(data)
    if len(view) < _HEADER.size:
        raise CacheError("truncated header")
    magic, version, length, digest = _HEADER.unpack_from(view)
    if magic != MAGIC or version != FORMAT_VERSION:
        raise CacheError(f"not a twin park cache of format {FORMAT_VERSION}")
    body = view[_HEADER.size:]
    if len(body) != length:
        raise CacheError(f"truncated: {len(body)} of {length} bytes")
    if hashlib.sha256(body).digest() != digest:
        raise CacheError("checksum mismatch")
    with _gc_paused():  # collections triggered by 100k new objects would double the load time
        try:
            record = pickle.loads(body)
            state = record["park"]
            park = Park(state["name"], origin_m=state["origin_m"], crs=state["crs"])
            vars(park).update(state)
            park.nodes = _nodes(record["nodes"], base)
            park.batches = [_batch(*r) for r in record["batches"]]
        except Exception as exc:  # a whole body that still fails: not what this code writes
            raise CacheError(f"cannot rebuild the park: {exc!r}") from exc
    return park


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- the cache folder ---------------------------------------------------------------------------
def cache_dir_for(scene_path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$TWIN_CACHE``, else ``.twin-cache/`` beside the scene file."""
    chosen = cache_dir or os.environ.get("TWIN_CACHE")
    return Path(chosen) if chosen else scene_file(scene_path).parent / ".twin-cache"


def _stem(file: Path, folder: Path) -> str:
    """Names a scene's entries: its file name, plus a hash of its full path in a shared cache folder."""
    if folder.resolve().parent == file.resolve().parent:
        return file.name
    return f"{file.name}-{hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:8]}"


def entry_path(scene_path: str | os.PathLike, cache_dir: str | os.PathLike | None = None,
               key: str | None = None) -> Path:
    """Where the cache entry of a scene (for its current content, or ``key``) lives."""
    file, folder = scene_file(scene_path), cache_dir_for(scene_path, cache_dir)
    return folder / f"{_stem(file, folder)}.{key or cache_key(file)}{_SUFFIX}"


def _entries(folder: Path, stem: str) -> Iterator[Path]:
    """All entries of one scene in a cache folder (any key)."""
    if folder.is_dir():
        for path in folder.iterdir():
            parts = path.name.rsplit(".", 2)
            if len(parts) == 3 and parts[0] == stem and "." + parts[2] == _SUFFIX:
                yield path


def load_cached(scene_path: str | os.PathLike, cache_dir: str | os.PathLike | None = None,
                key: str | None = None) -> Park | None:
    """The cached park of a scene's current content (or of ``key``); None when there is none or it is
    unreadable (which is logged, and the bad entry removed)."""
    entry = entry_path(scene_path, cache_dir, key)
    try:
        data = entry.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return _decode(data, scene_file(scene_path).parent)
    except CacheError as exc:
        log.warning("%s: unusable cache entry (%s); rebuilding", entry, exc)
        entry.unlink(missing_ok=True)
        return None


def save(park: Park, scene_path: str | os.PathLike, cache_dir: str | os.PathLike | None = None,
         key: str | None = None) -> Path:
    """Write a park's cache entry atomically (temp file, then rename) and drop the scene's older ones.

    Pass the ``key`` computed before loading, so sources edited during a long compile cannot be
    cached under their new content.
    """
    file = scene_file(scene_path)
    entry = entry_path(file, cache_dir, key)
    folder = entry.parent
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".gitignore").write_text("*\n")
    header, body = _encode(park, file.parent)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{entry.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(header)
            fh.write(body)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a shared cache is read by other users
        os.replace(tmp, entry)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for old in _entries(folder, _stem(file, folder)):
        if old != entry:
            old.unlink(missing_ok=True)
    return entry


def compile_scene(scene_path: str | os.PathLike, progress: Callable[[int], None] | None = None,
                  cache_dir: str | os.PathLike | None = None) -> Park:
    """The park of a scene folder (or ``.ifc`` file): from the cache when its sources are unchanged,
    else loaded with :func:`twin.scene.load_park` and cached."""
    key = cache_key(scene_path)
    park = load_cached(scene_path, cache_dir, key)
    if park is not None:
        log.info("%s: loaded from the cache", scene_path)
        if progress is not None:
            progress(100)
        return park
    park = load_park(scene_path, progress=progress)
    try:
        save(park, scene_path, cache_dir, key)
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
        # a read-only folder, an unpicklable loader: still a park, just not cached
        log.warning("%s: cannot write the cache (%s)", scene_path, exc)
    return park
