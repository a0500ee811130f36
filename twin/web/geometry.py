"""Render batches over plain HTTP (design decision 5): ``GET /geometry/<digest>.bin``.

The URL carries the batch's content hash, so a response never changes: browsers cache it forever
(``immutable``), revalidate with the digest as ETag, and the websocket never carries geometry.
"""
from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterable

from tornado.web import RequestHandler

from twin.batches import RenderBatch
from twin.web.access import AccessDenied, check, current_principal
from twin.web.visibility import batch_permission

ROUTE = r"/geometry/([0-9a-f]+)\.bin"
CACHE_FOREVER = "public, max-age=31536000, immutable"


def geometry_url(batch: RenderBatch) -> str:
    """The server-absolute URL of a batch's binary payload."""
    return f"/geometry/{batch.digest}.bin"


class GeometryStore:
    """Batch payloads by digest, each gzipped at most once (on its first gzip request)."""

    def __init__(self, batches: Iterable[RenderBatch]):
        batches = list(batches)
        self._payloads = {b.digest: b.payload for b in batches}
        self.permissions = {b.digest: batch_permission(b.category) for b in batches}  # what fetching each needs
        self._gzipped: dict[str, asyncio.Future[bytes]] = {}

    def __contains__(self, digest: str) -> bool:
        return digest in self._payloads

    def payload(self, digest: str) -> bytes:
        return self._payloads[digest]

    async def gzipped(self, digest: str) -> bytes:
        """The gzip of a payload, compressed off the event loop and kept."""
        if digest not in self._gzipped:
            loop = asyncio.get_running_loop()
            self._gzipped[digest] = loop.run_in_executor(None, gzip.compress, self._payloads[digest], 6)
        return await self._gzipped[digest]


class GeometryHandler(RequestHandler):
    """Serves one batch payload; 304 on a matching ETag, gzip when the client accepts it."""

    def initialize(self, store: GeometryStore) -> None:
        self.store = store

    async def get(self, digest: str) -> None:
        try:
            check(current_principal(self.request), self.store.permissions.get(digest, "geometry.read"),
                  f"geometry/{digest}", remote=self.request.remote_ip or "")
        except AccessDenied:
            self.send_error(403)
            return
        if digest not in self.store:
            self.send_error(404)
            return
        self.set_header("Cache-Control", CACHE_FOREVER)
        self.set_header("Vary", "Accept-Encoding")
        self.set_header("ETag", f'"{digest}"')
        if self.check_etag_header():
            self.set_status(304)
            return
        self.set_header("Content-Type", "application/octet-stream")
        if "gzip" in self.request.headers.get("Accept-Encoding", ""):
            self.set_header("Content-Encoding", "gzip")
            self.write(await self.store.gzipped(digest))
        else:
            self.write(self.store.payload(digest))

    def compute_etag(self) -> None:
        """The ETag is the digest, set in :meth:`get`; tornado must not hash the body again."""
        return None


def geometry_route(batches: Iterable[RenderBatch]) -> tuple[str, type[RequestHandler], dict]:
    """The tornado route (for ``extra_patterns``) serving these batches."""
    return ROUTE, GeometryHandler, {"store": GeometryStore(batches)}
