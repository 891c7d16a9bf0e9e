"""aiodocker's client, with every engine response released when the code reading it ends.

aiodocker hands each response out through ``Docker._query`` and leaves it open when the
block reading it is left by an exception. aiohttp closes a response whose ``read()`` fails,
but the readers that go chunk by chunk (a container's log tail, a stats list without
``one-shot``) do not: a deadline or a cancellation in the middle of one left the
connection open until the garbage collector found it ("Unclosed connection"). Here the
response is closed when its block fails, and released (kept for reuse only when the engine
finished the answer) when it ends normally.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiodocker
import aiohttp


class Docker(aiodocker.Docker):
    """``aiodocker.Docker`` whose responses never outlive the block that reads them."""

    @asynccontextmanager
    async def _query(
        self, path: Any, method: str = "GET", **kwargs: Any
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        response = await self._do_query(path, method, **kwargs)
        try:
            yield response
        except BaseException:
            response.close()  # cut short: the connection holds a partial answer
            raise
        else:
            response.release()


async def json_answer(docker: aiodocker.Docker, path: str,
                      params: dict[str, Any] | None = None) -> Any:
    """The engine's answer at ``path`` read as JSON whatever its Content-Type (None when
    it is empty).

    Podman's compat stats endpoint writes its status before it sets the header, so its
    answer comes with none, and aiodocker's own reader then returns an empty string.
    """
    async with docker._query(path, "GET", params=params) as response:
        body = await response.read()
    return json.loads(body) if body.strip() else None
