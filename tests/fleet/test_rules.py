"""The shipped Prometheus rules and examples pass Prometheus's and Alertmanager's own checks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = DEPLOY / "rules" / "stackmedic.rules.yml"
RULE_TESTS = sorted((DEPLOY / "tests").glob("*.test.yml"))
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"

pytestmark = pytest.mark.skipif(
    not Path(PROMTOOL).exists(),
    reason="needs Debian's prometheus package for promtool (scripts/ensure-system-deps)",
)


def tool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run promtool or amtool; the output goes into the failure message."""
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=120, check=False
    )


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_rules_pass_promtool_check() -> None:
    result = tool(PROMTOOL, "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=[p.name for p in RULE_TESTS])
def test_rule_unit_tests_pass(test_file: Path) -> None:
    result = tool(PROMTOOL, "test", "rules", test_file)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_expectation_fails_the_unit_tests(tmp_path: Path) -> None:
    source = DEPLOY / "tests" / "deployments.test.yml"
    broken = tmp_path / "tests" / source.name
    broken.parent.mkdir()
    (tmp_path / "rules").symlink_to(RULES.parent)
    text = source.read_text()
    assert "deployment: shop" in text
    broken.write_text(text.replace("deployment: shop", "deployment: blog", 1))
    result = tool(PROMTOOL, "test", "rules", broken)
    assert result.returncode != 0
    assert "StackmedicDeploymentDown" in result.stdout + result.stderr


def test_every_alert_has_a_unit_test_that_fires_it() -> None:
    fired: set[str] = set()
    for test_file in RULE_TESTS:
        for case in yaml.safe_load(test_file.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    fired.add(check["alertname"])
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert alerts - fired == set()


def test_every_recording_rule_is_tested_or_feeds_a_tested_alert() -> None:
    tests_text = "\n".join(p.read_text() for p in RULE_TESTS)
    alert_exprs = "\n".join(rule["expr"] for rule in rules() if "alert" in rule)
    untested = [
        rule["record"]
        for rule in rules()
        if "record" in rule
        and f"expr: {rule['record']}" not in tests_text
        and rule["record"] not in alert_exprs
    ]
    assert untested == []


def test_every_alert_names_its_host() -> None:
    for rule in rules():
        if "alert" in rule and rule["alert"] != "StackmedicAgentsAbsent":
            assert "$labels.host" in rule["annotations"]["summary"], rule["alert"]


@pytest.mark.parametrize("example", ["prometheus.example.yml", "federation.example.yml"])
def test_example_configs_pass_promtool(example: str) -> None:
    result = tool(PROMTOOL, "check", "config", DEPLOY / example)
    assert result.returncode == 0, result.stdout + result.stderr


def test_federation_example_keeps_the_agents_labels() -> None:
    config = yaml.safe_load((DEPLOY / "federation.example.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/federate"
    assert job["honor_labels"] is True
    assert '{job="stackmedic"}' in job["params"]["match[]"]


def test_scrape_example_discovers_hosts_from_files() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.example.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["file_sd_configs"][0]["files"] == ["targets/*.yml"]
    for group in yaml.safe_load((DEPLOY / "targets" / "example.yml").read_text()):
        assert group["labels"]["host"], group


@pytest.mark.skipif(not Path(AMTOOL).exists(), reason="needs prometheus-alertmanager's amtool")
def test_alertmanager_example_passes_amtool() -> None:
    result = tool(AMTOOL, "check-config", DEPLOY / "alertmanager.example.yml")
    assert result.returncode == 0, result.stdout + result.stderr
