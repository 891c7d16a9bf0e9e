"""HTTP helpers shared by the webhook and Alertmanager channels."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from stackmedic import __version__
from stackmedic.notify.errors import ChannelRejected, ChannelUnreachable, DeliveryError

USER_AGENT = f"stackmedic/{__version__}"

# Statuses after which the same request may succeed later.
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})


def make_client(timeout: float, verify: bool) -> httpx.AsyncClient:
    """Return a client with our timeout, TLS choice and user agent; no redirects followed."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        verify=verify,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    auth: httpx.Auth | None = None,
) -> httpx.Response:
    """POST ``body``; raise a ``DeliveryError`` (without the URL) unless the answer is 2xx."""
    try:
        response = await client.post(
            url,
            content=body,
            headers=dict(headers),
            auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
        )
    except httpx.TimeoutException as exc:
        raise ChannelUnreachable(f"timed out ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise ChannelUnreachable(f"cannot connect ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"HTTP error ({type(exc).__name__})") from None
    check_status(response)
    return response


def check_status(response: httpx.Response) -> None:
    """Raise ``ChannelRejected`` for a non-2xx answer; 4xx other than 408/409/425/429 is final."""
    status = response.status_code
    if 200 <= status < 300:
        return
    permanent = 400 <= status < 500 and status not in _RETRYABLE_4XX
    raise ChannelRejected(
        f"receiver answered HTTP {status} {response.reason_phrase}".rstrip(),
        status=status,
        permanent=permanent,
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


def _retry_after(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header given in seconds."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
