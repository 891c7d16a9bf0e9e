"""The CLI starts fast because the commands that talk to the agent import nothing heavy.

(How fast is measured by bench/bench_cli.py; this test keeps the reason for it true.)
Typer, its bundled click and the pydantic it coerces parameters with are what the CLI
framework needs; everything else of weight (the HTTP stack, rich, the web stack, the Docker
client, the agent and its configuration schema) must stay out.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from support.agent import AgentProcess, agent_config

HEAVY = ("httpx", "httpcore", "rich", "fastapi", "starlette", "uvicorn", "aiodocker",
         "apprise", "structlog", "pydantic_settings", "email_validator",
         "stackmedic.agent", "stackmedic.config", "stackmedic.notify", "stackmedic.api",
         "stackmedic.resources", "stackmedic.hostinfo.inspector")
# What Typer itself loads: its bundled click, and pydantic's core for parameter coercion.
FRAMEWORK = ("typer", "pydantic", "pydantic_core", "annotated_types", "typing_extensions",
             "typing_inspection", "shellingham", "annotated_doc")
# ... and PyYAML, with which cli/address.py reads the config file's `api` section.
# (cython_runtime is the stub module any Cython-built extension, such as PyYAML's, registers.)
ALLOWED = (*FRAMEWORK, "yaml", "cython_runtime")
PROBE = ("import atexit, json, sys\n"
         "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
         "sys.argv[0] = 'stackmedic'\n"
         "from stackmedic.cli.main import main\n"
         "main()\n")
COMMANDS = [["--help"], ["status"], ["events", "-n", "5"], ["health", "site"],
            ["diagnose", "site"], ["start", "site"], ["stop", "site"], ["restart", "site"],
            ["down", "site"], ["notify", "test"], ["notify", "list"], ["silence", "site"],
            ["unsilence", "3"], ["check"]]


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """A live agent without Docker behind it: every command gets a real answer."""
    base = tmp_path_factory.mktemp("startup")
    (base / "deployments").mkdir()
    started = AgentProcess(agent_config(base / "data", base / "deployments",
                                        docker_host=f"unix://{base}/missing.sock"),
                           base / "agent")
    started.start()
    yield started
    started.close()


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_commands_that_talk_to_the_agent_load_no_heavy_package(
        args: list[str], agent: AgentProcess) -> None:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                            text=True, timeout=60, env=agent.env(), check=False)
    # Answered (0), or refused by the agent for a deployment it does not know (1).
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    loaded = set(json.loads(result.stderr.strip().splitlines()[-1]))
    heavy = [name for name in HEAVY if name in loaded]
    assert heavy == [], f"`stackmedic {' '.join(args)}` imports {heavy}"
    assert "typer" in loaded  # the probe ran the Typer CLI


def test_only_typer_and_its_own_dependencies_are_loaded_beyond_the_standard_library(
        agent: AgentProcess) -> None:
    result = subprocess.run([sys.executable, "-c", PROBE, "events", "-n", "5"],
                            capture_output=True, text=True, timeout=60, env=agent.env(),
                            check=False)
    assert result.returncode == 0, result.stderr
    loaded = {name.split(".")[0] for name in json.loads(result.stderr.strip().splitlines()[-1])}
    third_party = sorted(loaded - set(sys.stdlib_module_names) - {"stackmedic", "__main__"}
                         - {name for name in loaded if name.startswith("_")})
    assert set(third_party) <= set(ALLOWED), third_party
