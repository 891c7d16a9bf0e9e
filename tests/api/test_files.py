"""The data folder and what is in it are the owner's alone; loose permissions are reported."""

from __future__ import annotations

from pathlib import Path

import httpx
import structlog

from stackmedic.agent import Agent
from stackmedic.auth import load_or_create_token
from stackmedic.config.permissions import warn_about_permissions


def mode(path: Path) -> int:
    """The permission bits of ``path``."""
    return path.stat().st_mode & 0o777


async def test_data_folder_is_private(offline_agent: Agent, client: httpx.AsyncClient) -> None:
    data = offline_agent.settings.data_dir
    assert mode(data) == 0o700
    offline_agent.events.record("probe", "a write, so the WAL exists")
    files = [offline_agent.settings.database_path, offline_agent.settings.resolved_token_file,
             offline_agent.settings.resolved_read_token_file]
    files += [p for p in data.iterdir() if p.name.endswith(("-wal", "-shm"))]
    assert len(files) >= 4
    for path in files:
        assert mode(path) == 0o600, path


async def test_an_old_open_data_folder_is_narrowed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "stackmedic.db").touch(mode=0o644)
    (data / "stackmedic.db").chmod(0o644)
    (tmp_path / "deployments").mkdir()
    from stackmedic.config.model import Settings

    agent = Agent(Settings.model_validate({
        "data_dir": str(data), "deployments_path": str(tmp_path / "deployments"),
        "docker": {"host": f"unix://{tmp_path}/missing.sock"},
    }))
    try:
        assert mode(data) == 0o700
        assert mode(data / "stackmedic.db") == 0o600
    finally:
        await agent.engine.close()
        agent.db.close()


def test_token_or_config_writable_by_others_is_warned_about(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("a-token-of-enough-length\n")
    config = tmp_path / "stackmedic.yaml"
    config.write_text("log_level: info\n")
    for path in (token_file, config):
        path.chmod(0o644)
    with structlog.testing.capture_logs() as quiet:
        load_or_create_token(None, token_file)
        assert warn_about_permissions(config) is False
    assert not [e for e in quiet if e["log_level"] == "warning"]
    token_file.chmod(0o666)
    config.chmod(0o620)
    with structlog.testing.capture_logs() as logged:
        assert load_or_create_token(None, token_file) == "a-token-of-enough-length"
        assert warn_about_permissions(config) is True
    warned = {e["file"] for e in logged if e["log_level"] == "warning"}
    assert warned == {str(token_file), str(config)}
    assert all("a-token-of-enough-length" not in str(e) for e in logged)
