"""The adviser's answer against the one allowlist, end to end: a stop is refused at parse
time and the rules act; an explicit empty list leads to a give-up with its reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stackmedic.cli.diagnose import render_diagnosis
from support.agent import RECOVERY_ON, merge, running_agent
from support.chat_server import ChatServer
from support.compose import crash_container
from support.deployments import DeploymentFactory, service
from support.wait import async_wait_until

pytestmark = pytest.mark.docker

STOP = """The web service misbehaves; stop it.
```suggestions
[{"kind": "service_action", "service": "web", "action": "stop", "title": "stop web"}]
```"""

NOTHING = """The image was deleted from the registry; no action here can bring it back.
```suggestions
[]
```"""


def llm_config(chat: ChatServer) -> dict[str, Any]:
    return merge(RECOVERY_ON, {"recovery": {"llm": {
        "url": chat.url, "model": "test-model", "timeout_seconds": 10}}})


async def _finished_run(handle: Any, name: str, outcome: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        runs = (await handle.get("/api/recoveries", params={"deployment": name}))["items"]
        found = [r for r in runs if r["outcome"] == outcome]
        return found[0] if found else None

    run: dict[str, Any] = await async_wait_until(done, 90, message=f"a {outcome} run")
    return run


async def test_a_stop_suggestion_is_refused_and_the_rules_act_and_say_why(
    tmp_path: Path, deployments: DeploymentFactory, chat: ChatServer
) -> None:
    chat.content = STOP
    site = deployments.make("stopper", {"web": service("sleep 3600")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root, **llm_config(chat)) as handle:
        await handle.wait_listed(site.name)
        crash_container(site.container_ids()[0])
        run = await _finished_run(handle, site.name, "recovered")
        assert run["source"] == "rules"
        assert [(a["action"], a["service"]) for a in run["actions"]] == [("start", "web")]
        llm = run["diagnosis"]["llm"]
        assert llm["used"] is False
        assert llm["answer"].startswith("The web service misbehaves")
        assert "#0: action" in llm["why_not_used"]
        prompt = json.loads(chat.requests[0].body)["messages"][0]["content"]
        assert "- restart:" in prompt and "- stop:" not in prompt  # never offered
        assert site.states() == {"web": "running"}
        diagnosis = (await handle.post(f"/api/deployments/{site.name}/diagnose")).json()
        assert diagnosis["diagnosis"]["llm"] is None  # healthy: the adviser is not asked


async def test_an_explicit_empty_list_gives_up_with_the_advisers_reason(
    tmp_path: Path, deployments: DeploymentFactory, chat: ChatServer
) -> None:
    chat.content = NOTHING
    site = deployments.make("hopeless", {"web": service("sleep 3600")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root, **llm_config(chat)) as handle:
        await handle.wait_listed(site.name)
        crash_container(site.container_ids()[0])
        run = await _finished_run(handle, site.name, "gave-up")
        assert run["actions"] == []
        assert run["error"].startswith("the adviser says no action would help: The image")
        diagnosis = (await handle.post(f"/api/deployments/{site.name}/diagnose")).json()
        text = render_diagnosis(site.name, diagnosis)
        assert "needs a person: the adviser says no action would help" in text
