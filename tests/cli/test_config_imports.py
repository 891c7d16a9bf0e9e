"""The config schema loads no channel client, Docker client or rich unless a channel needs it.

`stackmedic config check` stays fast, and the agent stays small, because the schema imports
only pydantic and the standard library; a channel's client library (aiosmtplib, httpx,
apprise) is loaded when a channel of that kind is configured. (How fast and how small is
measured by bench/bench_cli.py and bench/bench_soak.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("apprise", "aiosmtplib", "httpx", "aiodocker", "rich")
REPORT = ("import atexit, json, sys\n"
          "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n")
CHECK = REPORT + ("sys.argv[0] = 'stackmedic'\n"
                  "from stackmedic.cli.main import main\n"
                  "main()\n")


def _loaded(code: str, *args: str,
            code_expected: int = 0) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                            text=True, timeout=60, check=False,
                            env={k: v for k, v in os.environ.items()
                                 if not k.startswith("STACKMEDIC_")})
    assert result.returncode == code_expected, result.stderr
    return set(json.loads(result.stderr.strip().splitlines()[-1])), result


def test_importing_the_config_schema_loads_no_heavy_package() -> None:
    loaded, _ = _loaded(REPORT + "import stackmedic.config.model\n")
    assert [name for name in HEAVY if name in loaded] == []
    assert "stackmedic.config.model" in loaded


def test_config_check_without_client_channels_loads_no_heavy_package(tmp_path: Path) -> None:
    config = tmp_path / "stackmedic.yaml"
    config.write_text(_without_channels(tmp_path)
                      + "notifications: {group_window_seconds: 5, flap_threshold: null}\n")
    loaded, result = _loaded(CHECK, "config", "check", "--config", str(config))
    assert result.stdout.startswith("configuration is valid;"), result.stdout
    assert [name for name in HEAVY if name in loaded] == []


def test_a_configured_channel_still_loads_its_client_and_is_checked(tmp_path: Path) -> None:
    config = tmp_path / "stackmedic.yaml"
    config.write_text(_without_channels(tmp_path) + (
        "notifications:\n"
        "  channels:\n"
        "    mail: {type: email, host: smtp.example.org, from_address: a@example.org,"
        " to: [b@example.org]}\n"
        "    chat: {type: apprise, url: 'notaservice://x'}\n"))
    loaded, result = _loaded(CHECK, "config", "check", "--config", str(config),
                             code_expected=2)
    # The apprise URL is still validated by apprise itself, and the email channel built.
    assert "chat" in result.stderr and "apprise does not recognise this URL" in result.stderr
    assert {"apprise", "aiosmtplib"} <= loaded


def _without_channels(base: Path) -> str:
    return (f"data_dir: {base}/data\n"
            f"deployments_path: {base}\n"
            "api: {port: 9999}\n"
            "health: {sweep_interval_seconds: 20}\n")
