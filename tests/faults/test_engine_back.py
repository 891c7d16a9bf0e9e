"""An engine that stalled for a while is seen as back as soon as it answers again."""

from __future__ import annotations

import pytest

from health.proxy import SocketProxy
from stackmedic.engine.client import EngineClient

pytestmark = pytest.mark.docker


async def test_an_engine_that_stalled_a_ping_is_reachable_again_once_it_answers() -> None:
    proxy = SocketProxy()
    await proxy.start()
    engine = EngineClient(proxy.host, request_timeout=1)
    try:
        assert await engine.ping()
        proxy.fault(r"/info$", "stall")
        assert not await engine.ping()
        assert not engine.status.reachable
        assert "system info timed out" in str(engine.status.error)

        proxy.clear()
        await engine.list_project_containers()  # any call that is answered
        assert engine.status.reachable
        assert engine.status.error is None
    finally:
        await engine.close()
        await proxy.close()
