"""Cross-site request checks: same-origin POSTs only, each carrying its CSRF token."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

CSRF_FIELD = "csrf_token"
SAME_ORIGIN_FETCH = ("same-origin", "none")


def cross_site_reason(headers: Mapping[str, str]) -> str | None:
    """Why a POST looks like it came from another site, or None when it did not.

    Browsers say where a request comes from in ``Sec-Fetch-Site`` and ``Origin`` (and
    ``Referer``); each present one must name this dashboard's own host. A request with none
    of them is not a browser's cross-site request, and still needs its CSRF token.
    """
    host = (headers.get("host") or "").lower()
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() not in SAME_ORIGIN_FETCH:
        return f"the browser marked the request {fetch_site}"
    origin = headers.get("origin")
    if origin is not None:
        return None if _same_host(origin, host) else f"it came from origin {origin!r}"
    referer = headers.get("referer")
    if referer:
        return None if _same_host(referer, host) else "it came from another site's page"
    return None


def _same_host(url: str, host: str) -> bool:
    """Whether ``url`` is an http(s) URL on ``host`` (host and port)."""
    if not host:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host
