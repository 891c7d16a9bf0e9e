"""The CLI starts fast because the commands that talk to the agent import nothing heavy.

(How fast is measured by bench/bench_cli.py; this test keeps the reason for it true.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.agent import free_port

HEAVY = ("pydantic", "httpx", "rich", "typer", "fastapi", "uvicorn",
         "stackmedic.agent", "stackmedic.config", "stackmedic.notify", "stackmedic.api")
PROBE = ("import atexit, json, sys\n"
         "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
         "sys.argv[0] = 'stackmedic'\n"
         "from stackmedic.cli.main import main\n"
         "main()\n")
COMMANDS = [["--help"], ["status"], ["events", "-n", "5"], ["health", "site"],
            ["diagnose", "site"], ["start", "site"], ["stop", "site"], ["restart", "site"],
            ["down", "site"], ["notify", "test"], ["notify", "list"], ["silence", "site"],
            ["unsilence", "3"], ["check"]]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_commands_that_talk_to_the_agent_load_no_heavy_package(
        args: list[str], tmp_path: Path) -> None:
    config = tmp_path / "stackmedic.yaml"
    config.write_text(f"api:\n  port: {free_port()}\ndata_dir: {tmp_path}/data\n")
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60,
        env={"STACKMEDIC_CONFIG": str(config), "PATH": "/usr/bin:/bin"}, check=False)
    # Nothing listens on the port: every command but --help says so and exits 3.
    assert result.returncode == (0 if args == ["--help"] else 3), result.stderr
    loaded = set(json.loads(result.stderr.strip().splitlines()[-1]))
    heavy = [name for name in HEAVY if name in loaded]
    assert heavy == [], f"`stackmedic {' '.join(args)}` imports {heavy}"
