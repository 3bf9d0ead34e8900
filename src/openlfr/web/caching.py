"""HTTP side of the public cache (``services.public_cache``): anonymous GETs of public
pages, feeds and open data are answered from the cache while the public read model is
unchanged, and carry ETag and Last-Modified so that browsers and feed readers revalidate
with a 304 instead of downloading again.

Checking the version costs a database read; under load, requests share reads
(``FreshReads``): each waits for a read that began after it came, so none is served an
answer older than what was committed before it came.

A pure ASGI middleware, so that streams pass through unbuffered. Only answers that cannot
depend on who asks are kept: no session cookie, API key or Authorization header in the
request, a 200 with no Set-Cookie and no ``no-store`` or ``private``, a path that is not private
(``security.is_private``: staff pages, the non-public API, and the private links, such as the
author's page and the thank-you page that gives it, which answer one person alone).
"""

from __future__ import annotations

import asyncio
import logging
from email.utils import format_datetime, parsedate_to_datetime

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openlfr.services.public_cache import CachedAnswer, PublicCache, Version
from openlfr.web.deps import SESSION_COOKIE
from openlfr.web.fresh_reads import FreshReads
from openlfr.web.security import is_private

log = logging.getLogger(__name__)

#: Paths never cached: logging in and out, and the operator console's streams.
UNCACHED_PREFIXES = ("/login", "/logout", "/healthz", "/static/", "/docs", "/redoc",
                     "/openapi.json")
#: Public answers are revalidated on every use (cheap: a 304 from the cache).
CACHE_CONTROL = b"no-cache"


def _cacheable_request(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "GET":
        return False
    path: str = scope["path"]
    if is_private(path) or path.startswith(UNCACHED_PREFIXES) or path.endswith("/console"):
        return False
    headers = Headers(scope=scope)
    if "authorization" in headers or "x-api-key" in headers:
        return False
    return SESSION_COOKIE + "=" not in headers.get("cookie", "")


def _not_modified(request: Headers, answer: CachedAnswer) -> bool:
    tags = request.get("if-none-match")
    if tags is not None:
        return answer.etag in [t.strip().removeprefix("W/") for t in tags.split(",")] \
            or tags.strip() == "*"
    since = request.get("if-modified-since")
    if since is not None:
        try:
            return answer.built_at <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _validators(answer: CachedAnswer) -> list[tuple[bytes, bytes]]:
    return [(b"etag", answer.etag.encode()),
            (b"last-modified", format_datetime(answer.built_at, usegmt=True).encode()),
            (b"cache-control", CACHE_CONTROL)]


class PublicCacheMiddleware:
    def __init__(self, app: ASGIApp, cache: PublicCache) -> None:
        self.app = app
        self.cache = cache
        self._building: dict[str, asyncio.Lock] = {}
        self._refreshing: set[asyncio.Future[None]] = set()
        self.versions: FreshReads[None, Version] = FreshReads(lambda _: cache.version())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _cacheable_request(scope):
            await self.app(scope, receive, send)
            return
        # Pages carry absolute links: the host they were asked on is part of the key.
        key = (Headers(scope=scope).get("host", "") + scope["path"] + "?"
               + scope.get("query_string", b"").decode("latin-1"))
        version = await self.versions.after_now(None)
        answer = self.cache.get(key, version)
        if answer is None and (aged := self.cache.just_aged(key, version)) is not None:
            # Only the clock moved on: serve the answer as it was while it is built again.
            self._refresh(scope, key, version)
            answer = aged
        if answer is None:
            answer = await self._build_once(scope, receive, send, key, version)
            if answer is None:
                return  # not cacheable: already sent as it came
        await self._send(Headers(scope=scope), answer, send)

    def _refresh(self, scope: Scope, key: str, version: Version) -> None:
        """Build ``key`` again in the background, unless a build of it is under way."""
        if key in self._building and self._building[key].locked():
            return

        async def nothing_more() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def discard(message: Message) -> None:
            return None

        async def build() -> None:
            try:
                await self._build_once(dict(scope), nothing_more, discard, key, version)
            except Exception:  # the next request builds it in the foreground and sees why
                log.warning("could not rebuild the public answer for %s", key, exc_info=True)

        task = asyncio.ensure_future(build())
        self._refreshing.add(task)  # held until done (the loop keeps only weak references)
        task.add_done_callback(self._refreshing.discard)

    async def _build_once(self, scope: Scope, receive: Receive, send: Send, key: str,
                          version: Version) -> CachedAnswer | None:
        """The answer for ``key`` at ``version``, built unless another request built it
        meanwhile: one request builds a missing answer, and the others asking for it wait
        for that one rather than all building it at once."""
        lock = self._building.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                answer = self.cache.peek(key, version)
                if answer is None:
                    answer = await self._build(scope, receive, send, key, version)
                return answer
        finally:
            if not lock.locked():
                self._building.pop(key, None)

    async def _build(self, scope: Scope, receive: Receive, send: Send, key: str,
                     version: tuple[int, int]) -> CachedAnswer | None:
        """Run the app; keep its answer if it may be shared, else pass it on as it is."""
        start: Message | None = None
        chunks: list[bytes] = []
        passing = False

        async def capture(message: Message) -> None:
            nonlocal start, passing
            if passing:
                await send(message)
            elif message["type"] == "http.response.start":
                start = message
                headers = Headers(raw=message.get("headers", []))
                if (message["status"] != 200 or "set-cookie" in headers
                        or any(word in headers.get("cache-control", "")
                               for word in ("no-store", "private"))
                        or headers.get("content-type", "").startswith("text/event-stream")):
                    passing = True
                    await send(message)
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        if passing or start is None:
            return None
        headers = [(k, v) for k, v in start.get("headers", [])
                   if k.lower() not in (b"content-length", b"etag", b"last-modified",
                                        b"cache-control")]
        return self.cache.put(key, version, start["status"], headers, b"".join(chunks))

    @staticmethod
    async def _send(request: Headers, answer: CachedAnswer, send: Send) -> None:
        if _not_modified(request, answer):
            await send({"type": "http.response.start", "status": 304,
                        "headers": _validators(answer)})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [*answer.headers, *_validators(answer),
                   (b"content-length", str(len(answer.body)).encode())]
        await send({"type": "http.response.start", "status": answer.status,
                    "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

