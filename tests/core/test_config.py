"""Config loading: defaults, YAML, env overrides, and errors that name the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stackmedic.config.loader import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stackmedic.yaml"
    path.write_text(text)
    return path


def test_empty_file_gives_documented_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), env={})
    assert settings.api.host == "127.0.0.1"
    assert settings.deployments_path == Path("deployments")
    assert settings.database_path == Path("data") / "stackmedic.db"


def test_yaml_values_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, "api:\n  port: 9000\nadopt_running: true\n")
    settings = load_settings(path, env={})
    assert settings.api.port == 9000
    assert settings.adopt_running is True


def test_env_overrides_nested_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "api:\n  port: 9000\n")
    env = {"STACKMEDIC_API__PORT": "9100", "STACKMEDIC_DEPLOYMENTS_PATH": "/srv/sites",
           "STACKMEDIC_API__TOKEN": "12345"}
    settings = load_settings(path, env=env)
    assert settings.api.port == 9100
    assert settings.deployments_path == Path("/srv/sites")
    assert settings.api.token is not None
    assert settings.api.token.get_secret_value() == "12345"


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "rescan_interval_seconds: 7\n")
    settings = load_settings(None, env={"STACKMEDIC_CONFIG": str(path)})
    assert settings.rescan_interval_seconds == 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("api:\n  prot: 1\n", "api.prot: unknown key"),
        ("api:\n  port: lots\n", "api.port: Input should be a valid integer"),
        ("api:\n  port: 70000\n", "api.port: Input should be less than or equal to 65535"),
        ("health:\n  sweep_interval_seconds: -1\n", "health.sweep_interval_seconds"),
        ("docker:\n  host: ftp://x\n", "docker.host: must start with unix://"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("api: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_config_names_key_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), env={})
    assert expected in caught.value.render()


def test_unknown_env_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, ""), env={"STACKMEDIC_API__PROT": "1"})
    assert "STACKMEDIC_API__PROT: no config key 'api.prot'" in caught.value.render()


def test_bad_env_value_names_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, ""), env={"STACKMEDIC_API__PORT": "many"})
    assert "api.port" in caught.value.render()
    assert "STACKMEDIC_API__PORT" in caught.value.render()


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_settings(tmp_path / "nope.yaml", env={})


def test_secret_values_are_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "api:\n  token: 987654321\n"), env={})
    assert "api.token" in caught.value.render()
    assert "987654321" not in caught.value.render()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stackmedic", *args],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )


def test_config_check_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "api:\n  port: 70000\nbogus: 1\n")
    result = run_cli("config", "check", "--config", str(path))
    assert result.returncode == 2
    assert "api.port" in result.stderr
    assert "bogus: unknown key" in result.stderr


def test_config_check_accepts_the_example_config(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "stackmedic.example.yaml"
    result = run_cli("config", "check", "--config", str(example))
    assert result.returncode == 0, result.stderr
    assert "configuration is valid" in result.stdout


def test_example_config_documents_every_default() -> None:
    """The example file holds every key with its default value."""
    import yaml

    from stackmedic.config.model import Settings

    example = Path(__file__).resolve().parents[2] / "stackmedic.example.yaml"
    loaded = yaml.safe_load(example.read_text())
    defaults = Settings().model_dump(mode="json")

    def keys(tree: object, prefix: str = "") -> set[str]:
        if not isinstance(tree, dict) or not tree:
            return {prefix}
        found: set[str] = set()
        for key, value in tree.items():
            found |= keys(value, f"{prefix}.{key}" if prefix else str(key))
        return found

    missing = keys(defaults) - keys(loaded)
    assert not missing, f"keys missing from stackmedic.example.yaml: {sorted(missing)}"


def test_example_file_is_what_the_cli_renders() -> None:
    """The committed example stays in step with the schema (regenerate with
    `stackmedic config example > stackmedic.example.yaml`)."""
    from stackmedic.config.example import render_example

    example = Path(__file__).resolve().parents[2] / "stackmedic.example.yaml"
    assert example.read_text() == render_example()


def test_channel_errors_name_the_channel_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, (
        "notifications:\n  channels:\n"
        "    ops:\n      type: email\n      host: smtp.test\n      port: 99999\n"
        "      from_address: a@test.invalid\n      to: [b@test.invalid]\n"
        "    pager:\n      type: pigeon\n"
    ))
    result = run_cli("config", "check", "--config", str(path))
    assert result.returncode == 2
    assert "notifications.channels.ops.port: Input should be less than" in result.stderr
    path = write(tmp_path, "notifications:\n  channels:\n    pager:\n      type: pigeon\n")
    result = run_cli("config", "check", "--config", str(path))
    assert result.returncode == 2
    assert "notifications.channels.pager.type: unknown channel type 'pigeon'" in result.stderr
