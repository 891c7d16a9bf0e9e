"""Where the agent's API is and which token to send: from the same config file and
``STACKMEDIC_*`` variables as the agent, read without loading the whole schema (fast)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8477
ANY_ADDRESS = ("0.0.0.0", "::", "")


class AddressProblem(Exception):
    """The config or the environment does not say where the agent is in a usable way."""


@dataclass(frozen=True)
class AgentAddress:
    """The API's base URL and the token to send, if any."""

    url: str
    token: str | None


def resolve_address(config: Path | None, env: Mapping[str, str] | None = None) -> AgentAddress:
    """``STACKMEDIC_URL``/``STACKMEDIC_TOKEN`` first, then the config's ``api`` section."""
    env = os.environ if env is None else env
    if config is None and env.get("STACKMEDIC_CONFIG"):
        config = Path(env["STACKMEDIC_CONFIG"])
    data = _read(config) if config else {}
    api = _section(data, "api")
    host = _value(env, "API__HOST", api.get("host"), DEFAULT_HOST)
    port = _value(env, "API__PORT", api.get("port"), DEFAULT_PORT)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise AddressProblem(f"api.port: must be a port number, got {port!r}")
    host = DEFAULT_HOST if str(host) in ANY_ADDRESS else str(host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    url = (env.get("STACKMEDIC_URL") or f"http://{host}:{port}").rstrip("/")
    token = env.get("STACKMEDIC_TOKEN") or _value(env, "API__TOKEN", api.get("token"), None)
    if not token:
        data_dir = Path(str(_value(env, "DATA_DIR", data.get("data_dir"), "data")))
        token_file = _value(env, "API__TOKEN_FILE", api.get("token_file"), None)
        token = _read_token(Path(str(token_file)) if token_file else data_dir / "api-token")
    return AgentAddress(url, str(token) if token else None)


def _read(path: Path) -> dict[str, Any]:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AddressProblem(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise AddressProblem(f"{path}: not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise AddressProblem(f"{path}: the top level must be a mapping of keys to values")
    return loaded


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, Mapping):
        raise AddressProblem(f"{key}: must be a mapping")
    return value


def _value(env: Mapping[str, str], name: str, configured: Any, default: Any) -> Any:
    raw = env.get("STACKMEDIC_" + name)
    if raw is not None and raw.strip():
        import yaml

        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError:
            return raw
    return default if configured is None else configured


def _read_token(token_file: Path) -> str | None:
    try:
        return token_file.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
