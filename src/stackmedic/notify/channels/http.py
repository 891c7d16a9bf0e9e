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


class HttpClientHolder:
    """The one httpx client of an HTTP channel, opened lazily and closed once.

    A test may pass a ``transport`` (e.g. ``httpx.MockTransport``) in place of the network.
    """

    def __init__(
        self, timeout: float, verify: bool, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._timeout = timeout
        self._verify = verify
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        """The open client (``open`` must have been awaited)."""
        assert self._client is not None, "channel used before open()"
        return self._client

    async def open(self) -> None:
        """Create the client if there is none."""
        if self._client is None:
            if self._transport is not None:
                self._client = httpx.AsyncClient(transport=self._transport, timeout=self._timeout)
            else:
                self._client = make_client(self._timeout, self._verify)

    async def aclose(self) -> None:
        """Close the client."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


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
