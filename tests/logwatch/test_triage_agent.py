"""Opt-in triage of a new burst by a chat-completions endpoint: a good verdict goes with
the notice; a bad answer gives the notice without one, saying why; both are redacted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.agent import running_agent
from support.chat_server import ChatServer
from support.deployments import DeploymentFactory, service
from support.dockerd import PrivateDockerd
from support.lifecycle import mails
from support.servers import SmtpSink
from support.wait import async_wait_until

from .test_bursts_agent import DB_RULE, burst, logs_config

SECRET = "hunter2-db-password-7781"
VERDICT = {"summary": "The web service cannot reach its database.",
           "cause": "The database container is not running.",
           "next_step": "Start the db service and check its logs.",
           "severity": "critical", "confidence": 0.8}


def triage_config(smtp: SmtpSink, chat: ChatServer) -> dict[str, Any]:
    config = logs_config(smtp, {**DB_RULE, "count": 3})
    config["logs"]["triage"] = {"enabled": True, "max_calls_per_day": 5}
    config["recovery"] = {"enabled": False, "llm": {"url": chat.url, "model": "test-model"}}
    return config


async def test_a_good_verdict_goes_with_the_notice_and_a_bad_answer_says_why_not(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink, chat: ChatServer,
) -> None:
    chat.content = "Here it is:\n```json\n" + json.dumps(VERDICT) + "\n```"
    line = f"ERROR could not connect to database postgres://app:{SECRET}@db/app try $i"
    good = private_deployments.make("good", {"web": service(burst(line, 5))})
    bad = private_deployments.make(
        "bad", {"web": service(burst("ERROR could not connect to database $i", 5))})
    async with running_agent(tmp_path / "data", private_deployments.root,
                             docker_host=private_dockerd.host,
                             **triage_config(smtp, chat)) as h:
        await h.wait_listed(good.name)
        good.up()
        told: str = await async_wait_until(lambda: _mail_about(smtp, good.name), 60,
                                      message="the notice with its triage")
        assert "cannot reach its database" in told and "Start the db service" in told
        assert len(chat.requests) == 1
        asked = chat.requests[0].body.decode()
        assert SECRET not in asked and "could not connect to database" in asked
        assert SECRET not in told
        rows = (await h.get(f"/api/deployments/{good.name}/logs"))["top"]
        assert rows[0]["triage"]["summary"] == VERDICT["summary"]

        chat.content = "I think the database is down, but I will not answer in JSON."
        await h.wait_listed(bad.name)
        bad.up()
        told = await async_wait_until(lambda: _mail_about(smtp, bad.name), 60,
                                      message="the notice without triage")
        assert "triage" in told and "no JSON object" in told
        assert len(chat.requests) == 2


def _mail_about(smtp: SmtpSink, name: str) -> str | None:
    for mail in mails(smtp):
        if mail.log_pattern and name in mail.subject:
            return mail.text
    return None
