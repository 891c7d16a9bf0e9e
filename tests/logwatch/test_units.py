"""The log watch's pure parts: stream framing, levels, fingerprints, rules, bursts, verdicts."""

from __future__ import annotations

import struct

import pytest
from pydantic import ValidationError

from stackmedic.logwatch.bursts import Bursts
from stackmedic.logwatch.config import LogRule, LogsConfig
from stackmedic.logwatch.fingerprint import fingerprint, normalise
from stackmedic.logwatch.follower import since_param
from stackmedic.logwatch.frames import StreamDecoder
from stackmedic.logwatch.levels import Level, parse_level
from stackmedic.logwatch.rules import rules_for
from stackmedic.logwatch.triage import read_verdict

T1 = b"2026-12-07T10:00:00.000000001Z "
T2 = b"2026-12-07T10:00:00.000000002Z "


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxI", stream, len(payload)) + payload


def test_frames_split_anywhere_give_whole_lines_with_their_stream_and_time() -> None:
    data = frame(1, T1 + b"hello\n") + frame(2, T2 + b"oops \xff\xfe\n")
    decoder = StreamDecoder(tty=False, max_line=100)
    lines = [line for i in range(len(data)) for line in decoder.feed(data[i:i + 1])]
    assert [(x.stream, x.text) for x in lines] == [("stdout", "hello"),
                                                  ("stderr", "oops \ufffd\ufffd")]
    assert lines[1].at == T2[:-1].decode() and decoder.last_at == T2[:-1].decode()


def test_partial_messages_are_joined_and_an_over_long_line_is_cut_and_counted() -> None:
    decoder = StreamDecoder(tty=False, max_line=10)
    lines = decoder.feed(frame(1, T1 + b"abcdefgh") + frame(1, T2 + b"ijklmnop\n")
                         + frame(1, T2 + b"short\n"))
    assert [(x.text, x.cut) for x in lines] == [("abcdefghij", True), ("short", False)]
    assert decoder.cut_lines == 1


def test_a_tty_stream_is_split_on_newlines_and_loses_its_carriage_returns() -> None:
    data = T1 + b"one\r\n" + T2 + b"two\r\n" + T1 + b"three"
    for cut in range(1, len(data)):  # a read may end anywhere, in a time too
        decoder = StreamDecoder(tty=True, max_line=100)
        lines = decoder.feed(data[:cut]) + decoder.feed(data[cut:]) + decoder.flush()
        assert [x.text for x in lines] == ["one", "two", "three"], cut
        assert lines[1].at == T2[:-1].decode()


def test_a_stream_ending_mid_line_still_gives_the_line() -> None:
    decoder = StreamDecoder(tty=False, max_line=100)
    assert decoder.feed(frame(1, T1 + b"no newline")) == []
    assert [x.text for x in decoder.flush()] == ["no newline"]


@pytest.mark.parametrize(("line", "level"), [
    ('{"level":"error","msg":"x"}', Level.ERROR),
    ('{"severity":"WARNING"}', Level.WARNING),
    ('{"level":60,"msg":"pino fatal"}', Level.FATAL),
    ("ts=1 level=error msg=boom", Level.ERROR),
    ('time=1 lvl="warn" msg=x', Level.WARNING),
    ("ERROR could not connect", Level.ERROR),
    ("[WARN] disk almost full", Level.WARNING),
    ("2026-12-07 10:00:00,123 CRITICAL worker died", Level.FATAL),
    ("GET /errors 200", None),
    ("{not json", None),
])
def test_levels_are_read_from_common_formats(line: str, level: Level | None) -> None:
    assert parse_level(line) == level


def test_varying_parts_share_a_fingerprint_and_different_messages_do_not() -> None:
    a = "ERROR user 42 from 10.0.0.1:5432 request 3fa85f64-5717-4562-b3fc-2c963f66afa6 0x7f3a"
    b = "ERROR user 7 from 192.168.1.20:80 request 9c858901-8a57-4791-81fe-4c455b099bc9 0x11"
    assert fingerprint(a) == fingerprint(b)
    assert normalise(a) == "ERROR user <n> from <ip> request <uuid> <hex>"
    assert fingerprint("ERROR disk full") != fingerprint("ERROR cache refused")
    assert normalise("container 4f1c2d3e9a8b failed at 2026-12-07T10:00:00Z") == \
        "container <hex> failed at <time>"


def test_a_burst_fires_once_per_cooldown_and_resolves_after_quiet() -> None:
    rule = LogRule(name="r", pattern="x", count=3, window_seconds=10, cooldown_seconds=100,
                   quiet_seconds=5)
    bursts = Bursts()
    seen = [bursts.seen("d", "f", rule, "s", t) for t in (0, 1, 20, 21, 22, 23)]
    assert [c is not None for c in seen] == [False, False, False, False, True, False]
    assert bursts.due(27) == [] and len(bursts.firing()) == 1
    resolved = bursts.due(28.5)
    assert [c.firing for c in resolved] == [False] and resolved[0].matched == 1
    # Again within the cooldown: counted, not told.
    assert all(bursts.seen("d", "f", rule, "s", t) is None for t in (40, 41, 42))
    assert bursts.seen("d", "f", rule, "s", 130) is None
    assert bursts.seen("d", "f", rule, "s", 131) is None
    assert bursts.seen("d", "f", rule, "s", 132) is not None


def test_rules_come_from_labels_config_and_defaults_in_that_order() -> None:
    config = LogsConfig(rules=[LogRule(name="db", pattern="database"),
                               LogRule(name="web-only", pattern="x", services=["web"])])
    labels = {"stackmedic.logs.rules": '[{"name": "mine", "pattern": "database down"}]'}
    rules = rules_for(config, "site", "api", labels)
    assert [c.rule.name for c in rules.rules][:2] == ["mine", "db"]
    assert "web-only" not in [c.rule.name for c in rules.rules]
    assert rules.first_match("the database down again") is not None
    assert rules.first_match("the database down again").name == "mine"  # type: ignore[union-attr]
    assert rules_for(config, "site", "api", {"stackmedic.logs": "false"}).follow is False
    bad = rules_for(config, "site", "api", {"stackmedic.logs.rules": "[{name: x, count: 0}]"})
    assert bad.problem is not None and "stackmedic.logs.rules" in bad.problem
    assert bad.rules[0].rule.name == "db"
    none = rules_for(config, "s", "api", {"stackmedic.logs.default_rules": "false"})
    assert [c.rule.name for c in none.rules] == ["db"]


@pytest.mark.parametrize(("line", "rule"), [
    ("panic: runtime error: index out of range", "panic"),
    ("Traceback (most recent call last):", "traceback"),
    ("java.lang.OutOfMemoryError: Java heap space", "out-of-memory"),
    ('{"level":"fatal","msg":"cannot start"}', "fatal"),
    ("FATAL: could not open config", "fatal"),
    ("ERROR request failed", "error-burst"),
    ("GET /health 200 0.3ms", None),
    ("INFO handled 20 requests without error", None),
])
def test_the_default_rules_match_what_they_promise_and_stay_quiet_otherwise(
    line: str, rule: str | None,
) -> None:
    found = rules_for(LogsConfig(), "site", "web", {}).first_match(line)
    assert (found.name if found else None) == rule


def test_a_rule_says_what_is_wrong_with_it() -> None:
    with pytest.raises(ValidationError, match="not a regular expression"):
        LogRule(name="r", pattern="(unclosed")
    with pytest.raises(ValidationError, match="needs a pattern, a level or both"):
        LogRule(name="r")
    with pytest.raises(ValidationError, match="not info"):
        LogRule.model_validate({"name": "r", "pattern": "x", "severity": "info"})
    with pytest.raises(ValidationError, match="repeated: r"):
        LogsConfig(rules=[LogRule(name="r", pattern="x"), LogRule(name="r", pattern="y")])
    assert LogRule.model_validate({"name": "r", "level": "warn"}).level is Level.WARNING


def test_a_verdict_is_read_from_the_answer_or_refused_with_the_reason() -> None:
    good = ('<think>hm</think>```json\n{"summary": "s", "cause": "c", "next_step": "n", '
            '"severity": "Critical", "confidence": 0.5}\n```')
    assert read_verdict(good).severity == "critical"
    with pytest.raises(ValueError, match="no JSON object"):
        read_verdict("the database is down")
    with pytest.raises(ValueError, match="confidence"):
        read_verdict('{"summary": "s", "cause": "c", "next_step": "n", "severity": "info", '
                     '"confidence": 7}')


def test_since_keeps_every_nanosecond_of_the_position() -> None:
    assert since_param("2026-12-07T10:00:00.000000001Z") == "1796637600.000000001"
