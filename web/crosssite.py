"""Requests from other web sites: a page on another origin must not be able to act on the hall
through a browser on the hall's LAN (log a clerk in, lock staff out, take numbers).

- A mutating API request (POST, PUT, PATCH, DELETE under /api/) that carries a body must say
  `Content-Type: application/json`. A browser sends that type cross-site only after a CORS
  preflight, which this server never grants; `text/plain` and form bodies are what a foreign
  page can send without one, so they are refused (415). An empty body needs no type.
- A request with an `Origin` header must come from the server's own origin (the scheme, host
  and port it was reached at) or from `[hall] public_url`; anything else, `null` included, is
  refused (403). Our device programs and curl send no Origin, and stay allowed.
- Socket.IO handshakes are held to the same origins (python-engineio's `cors_allowed_origins`
  takes the function `origin_allowed`).
- Every answer carries SECURITY_HEADERS: the pages load scripts, styles and connections only
  from this server (no inline script or style, so an injected one does not run), no page may
  be framed (the counter and dashboard act on one click), nothing is sniffed into another
  type, and no URL leaks to other sites as a referrer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Request, Response

from hall.errors import HallError

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",  # Socket.IO's WebSocket too: 'self' covers ws: and wss: of this host
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers older than CSP 2
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def origin_of(url: str | None) -> str | None:
    """'http://192.168.1.10:8080/x' -> 'http://192.168.1.10:8080' (None if not a URL)."""
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def origin_allowed(origin: str | None, environ: dict[str, Any], public_url: str | None) -> bool:
    """An Origin header this server accepts: none at all, its own, or the public URL's."""
    if origin is None:
        return True
    own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}".lower()
    return origin.lower() in (own, origin_of(public_url))


def check_request(request: Request, public_url: str | None) -> None:
    """Refuse a cross-site or non-JSON mutating API request before any route sees it."""
    if not request.path.startswith("/api/") or request.method not in MUTATING:
        return
    origin = request.headers.get("Origin")
    if not origin_allowed(origin, request.environ, public_url):
        raise HallError("forbidden", f"跨站请求被拒绝 · Cross-site request refused "
                        f"(Origin {origin[:100]!r})")
    has_body = bool(request.content_length) or "chunked" in \
        request.headers.get("Transfer-Encoding", "").lower()
    if (has_body or request.content_type) and request.mimetype != "application/json":
        raise HallError("unsupported_media_type",
                        "请以 JSON 发送 · Send the body as application/json "
                        f"(got {request.mimetype or 'no Content-Type'!r})")


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
