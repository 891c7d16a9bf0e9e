"""Bad command lines are refused before any agent is asked: exit 2 naming the parameter."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from stackmedic.cli.main import app
from stackmedic.types import EventKind

# No agent listens here: a command that got past its parameters would exit 3, not 2.
NOWHERE = {"STACKMEDIC_URL": "http://127.0.0.1:9", "STACKMEDIC_CONFIG": ""}


@pytest.mark.parametrize(("args", "names"), [
    (["events", "-n", "0"], "'--limit' / '-n'"),
    (["events", "-n", "many"], "'--limit' / '-n'"),
    (["events", "-k", "health"], "unknown event kind 'health'"),
    (["notify", "list", "-n", "501"], "'--limit' / '-n'"),
    (["silence", "site", "--hours", "0"], "'--hours' / '-h'"),
    (["silence", "site", "--hours", "nan"], "'--hours' / '-h'"),
    (["silence", "site", "--hours", "inf"], "'--hours' / '-h'"),
    (["check", "--timeout", "nan"], "'--timeout'"),
    (["unsilence", "seven"], "'SILENCE_ID'"),
    (["status", "--config", "/"], "'--config' / '-c'"),
    (["health"], "'NAME'"),
    (["nosuch"], "No such command 'nosuch'"),
], ids=" ".join)
def test_a_bad_value_exits_2_naming_what_is_wrong(args: list[str], names: str) -> None:
    result = CliRunner().invoke(app, args, env=NOWHERE)
    assert result.exit_code == 2, result.output
    assert names in result.output, result.output
    assert "Traceback" not in result.output


def test_a_good_command_line_gets_as_far_as_asking_the_agent() -> None:
    result = CliRunner().invoke(app, ["silence", "site", "--hours", "0.5", "-r", "x"],
                                env=NOWHERE)
    assert result.exit_code == 3, result.output
    assert "no stackmedic agent answers at http://127.0.0.1:9" in result.output


def test_an_unknown_event_kind_is_refused_naming_every_known_one() -> None:
    result = CliRunner().invoke(app, ["events", "--kind", "recovery-gaveup"], env=NOWHERE)
    assert result.exit_code == 2, result.output
    assert "'--kind' / '-k'" in result.output
    assert all(kind in result.output for kind in EventKind)
    known = CliRunner().invoke(app, ["events", "--kind", "recovery-gave-up"], env=NOWHERE)
    assert known.exit_code == 3, known.output  # past its parameters, on to the agent
