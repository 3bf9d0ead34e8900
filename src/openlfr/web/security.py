"""What every response and every unsafe request passes through, whatever the route:
security headers on every response, ``no-store`` wherever personal data or a private
link may be shown (``is_private``; the public cache keeps none of those either), the
Origin check on cookie-authenticated API calls that change something, and the refusal of
a long URL-encoded form sent to the API.

A pure ASGI middleware (not Starlette's BaseHTTPMiddleware), so that the console's
server-sent event streams pass through unbuffered.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openlfr.web.deps import SESSION_COOKIE

#: The portal serves its scripts, styles and images itself and is never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'")
#: FastAPI's interactive docs load Swagger UI and ReDoc from a CDN with an inline script.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/redoc")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
#: Paths whose answers may hold personal data (staff pages, the non-public API): never
#: kept by a browser's or a proxy's cache.
PRIVATE_PREFIXES = ("/staff", "/api/")
PUBLIC_API_PREFIX = "/api/public/"
#: Paths anyone may open but that answer one person alone, by the key in the address: the
#: author's private page (their item, a redress request's words, the answer; page and
#: API) and the thank-you page that hands them its link.
PRIVATE_LINKS = re.compile(r"(/api/public)?/feedback/[^/]+/yours(/.*)?"
                           r"|/deployments/[^/]+/feedback/thanks/?")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: The API reads JSON, and forms where it takes files; FastAPI parses a form on the event
#: loop before the caller's login is checked, a URL-encoded one at about a second for
#: 4 MB of ``&``. One sent to the API may be at most this long (its Content-Length, read
#: before its body), enough for the few fields sent beside no file (a redaction's
#: reason): ``&`` that long takes about 15 ms.
API_PLAIN_FORM_MAX = 64 * 1024
PLAIN_FORM = "application/x-www-form-urlencoded"


def is_private(path: str) -> bool:
    """Whether answers on ``path`` may hold personal data, or a private link: never kept
    by a browser's or a proxy's cache (``no-store``) nor by the public cache."""
    return ((path.startswith(PRIVATE_PREFIXES) and not path.startswith(PUBLIC_API_PREFIX))
            or PRIVATE_LINKS.fullmatch(path) is not None)


def foreign_origin(headers: Headers, public_url: str) -> str | None:
    """The Origin of a request when it is neither this server's (its Host) nor the
    configured public address; None when it is ours or absent (not a browser)."""
    origin = headers.get("origin")
    if origin is None:
        return None
    netloc = urlsplit(origin).netloc
    if origin == "null" or not netloc:
        return origin
    if netloc == headers.get("host") or netloc == urlsplit(public_url).netloc:
        return None
    return origin


def media_type(headers: Headers) -> str:
    """A request's content type without its parameters, in lower case."""
    return headers.get("content-type", "").partition(";")[0].strip().lower()


class SecurityMiddleware:
    """Adds the security headers (and ``no-store`` on private paths) to every response,
    and refuses with 403 an unsafe API call that carries the session cookie but comes
    from a page of another site (SameSite=Lax alone lets some through)."""

    def __init__(self, app: ASGIApp, public_url: str) -> None:
        self.app = app
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = Headers(scope=scope)
        if scope["method"] in UNSAFE_METHODS and path.startswith("/api/"):
            origin = (foreign_origin(headers, self.public_url)
                      if f"{SESSION_COOKIE}=" in headers.get("cookie", "") else None)
            if origin is not None:
                await _answer(send, 403, f"a request from another site ({origin[:100]!r}) "
                              "may not act with your session; use this site's own pages, "
                              "or an API key")
                return
            length = headers.get("content-length", "")
            if media_type(headers) == PLAIN_FORM and not (
                    length.isdigit() and int(length) <= API_PLAIN_FORM_MAX):
                await _answer(send, 413, "a URL-encoded form sent to the API is at most "
                              f"{API_PLAIN_FORM_MAX // 1024} KiB, its length given; send "
                              "files as multipart/form-data, and anything else as JSON")
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    out.setdefault(name, value)
                out.setdefault("content-security-policy",
                               DOCS_CONTENT_SECURITY_POLICY if path.startswith(DOCS_PATHS)
                               else CONTENT_SECURITY_POLICY)
                if is_private(path):
                    out["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _answer(send: Send, status: int, detail: str) -> None:
    """A refusal sent before the app, with the headers every response carries."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items())]})
    await send({"type": "http.response.body", "body": body})
