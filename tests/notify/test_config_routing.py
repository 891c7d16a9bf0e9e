"""Config validation (errors name channel and field), routing rules and the channel registry."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pytest
from pydantic import SecretStr, ValidationError

from notify.conftest import make_event
from stackmedic.notify import (
    Channel,
    ChannelConfigError,
    ChannelRegistry,
    ChannelSettings,
    Notifier,
    NotifyConfig,
    NotifyConfigError,
    RenderedMessage,
    load_notify_config,
)
from stackmedic.notify.routing import Router
from stackmedic.notify.types import NotificationKind
from stackmedic.store.db import Database

MAIL = {"type": "email", "host": "smtp", "from_address": "a@b.c", "to": ["d@e.f"]}
HOOK = {"type": "webhook", "url": "https://hooks.example.org/x"}


def config_error(data: dict[str, Any]) -> str:
    with pytest.raises(NotifyConfigError) as caught:
        load_notify_config(data)
    return str(caught.value)


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ({**MAIL, "port": "x"}, "notifications.channels.ops.port: Input should be a valid integer"),
        ({**MAIL, "to": []}, "notifications.channels.ops.to: List should have at least 1"),
        ({**MAIL, "to": ["nobody"]}, "notifications.channels.ops.to: not an email address"),
        ({**MAIL, "password": "p"}, "channels.ops: field 'username' is required"),
        ({**MAIL, "tls": True}, "notifications.channels.ops.tls: Extra inputs are not permitted"),
        ({**MAIL, "security": "ssl"}, "notifications.channels.ops.security: Input should be"),
        ({**HOOK, "url": "ftp://x"}, "notifications.channels.ops.url: must be an absolute http"),
        ({**HOOK, "headers": {"Idempotency-Key": "x"}}, "channels.ops.headers: header"),
        ({"type": "alertmanager", "url": "http://am", "username": "u"}, "field 'password'"),
        ({"type": "apprise"}, "notifications.channels.ops.url: Field required"),
    ],
)
def test_config_errors_name_the_channel_and_the_field(
    channel: dict[str, Any], expected: str
) -> None:
    assert expected in config_error({"channels": {"ops": channel}})


def test_cross_references_are_checked() -> None:
    message = config_error({"channels": {"mail": MAIL}, "routes": [{"channels": ["pager"]}]})
    assert "routes[0].channels: unknown channel 'pager' (configured: mail)" in message
    message = config_error(
        {"channels": {"mail": MAIL}, "per_deployment": {"shop": {"channels": ["x"]}}}
    )
    assert "per_deployment.shop.channels: unknown channel 'x'" in message
    am = {"type": "alertmanager", "url": "http://am", "firing_ttl_seconds": 60}
    assert "channels.am.firing_ttl_seconds: must exceed" in config_error({"channels": {"am": am}})
    assert "retry_max_seconds" in config_error(
        {"retry_initial_seconds": 10, "retry_max_seconds": 1}
    )
    assert "channel name 'a b'" in config_error({"channels": {"a b": MAIL}})


def test_defaults_and_secret_types() -> None:
    mail_settings = {**MAIL, "username": "u", "password": "pw-9x8"}
    config = load_notify_config({"channels": {"mail": mail_settings}})
    assert config.group_window_seconds == 10 and config.repeat_interval_seconds == 4 * 3600
    mail = config.channels["mail"]
    assert isinstance(getattr(mail, "password", None), SecretStr)
    assert "pw-9x8" not in repr(mail)
    with pytest.raises(ValidationError):
        NotifyConfig.model_validate({"unknown": 1})


def test_channel_build_errors_name_channel_and_field(tmp_path: Any) -> None:
    registry = ChannelRegistry.with_builtins(plugins=False)
    config = load_notify_config({"channels": {"chat": {"type": "apprise", "url": "nope://x"}}})
    with pytest.raises(ChannelConfigError) as caught:
        registry.build("chat", config.channels["chat"])
    assert caught.value.channel == "chat" and caught.value.field == "url"
    assert "nope://x" not in str(caught.value)
    config = load_notify_config({"channels": {"sms": {"type": "carrier-pigeon", "x": 1}}})
    with pytest.raises(ChannelConfigError, match=r"channels\.sms\.type: unknown channel type"):
        registry.build("sms", config.channels["sms"])


class PigeonSettings(ChannelSettings):
    """Settings of the test plugin."""

    type: Literal["pigeon"]
    loft: str
    token: SecretStr


class PigeonChannel(Channel):
    """A plugin channel kind, registered the way an entry point would be."""

    kind: ClassVar[str] = "pigeon"
    config_model: ClassVar[type[ChannelSettings]] = PigeonSettings
    secret_fields: ClassVar[frozenset[str]] = frozenset({"token"})
    sent: ClassVar[list[str]] = []

    async def send(self, message: RenderedMessage) -> None:
        self.sent.append(message.title)


async def test_plugin_channels_are_validated_and_usable(tmp_path: Any) -> None:
    registry = ChannelRegistry.with_builtins(plugins=False)
    registry.register(PigeonChannel)
    assert registry.kinds() == ["alertmanager", "apprise", "email", "pigeon", "webhook"]
    with pytest.raises(ValueError, match="already registered"):
        registry.register(type("Other", (PigeonChannel,), {}))
    bad = load_notify_config({"channels": {"bird": {"type": "pigeon", "token": "t"}}})
    with pytest.raises(ChannelConfigError, match=r"channels\.bird\.loft: Field required"):
        registry.build("bird", bad.channels["bird"])

    config = load_notify_config(
        {
            "group_window_seconds": 0,
            "channels": {"bird": {"type": "pigeon", "loft": "roof", "token": "tok-123"}},
        }
    )
    db = Database(tmp_path / "db.sqlite")
    notifier = Notifier(config, db, registry=registry)
    [described] = notifier.describe_channels()
    assert described["kind"] == "pigeon" and described["settings"]["token"] == "****"
    [result] = await notifier.send_test("bird")
    assert result.ok and PigeonChannel.sent
    db.close()


def router(**data: Any) -> Router:
    return Router(
        load_notify_config(
            {
                "channels": {
                    "mail": MAIL,
                    "hook": HOOK,
                    "am": {"type": "alertmanager", "url": "http://am"},
                },
                **data,
            }
        )
    )


def test_routes_take_the_words_of_notification_kinds_and_severities() -> None:
    kinds = [str(kind) for kind in NotificationKind]
    route = {"kinds": kinds, "min_severity": "warning", "channels": ["mail"]}
    config = load_notify_config({"channels": {"mail": MAIL}, "routes": [route]})
    assert config.model_dump(mode="json")["routes"][0]["kinds"] == kinds
    # An event-log kind that is no notification kind is refused, naming the known ones.
    route = {"kinds": ["recovery-failed"], "channels": ["mail"]}
    message = config_error({"channels": {"mail": MAIL}, "routes": [route]})
    assert "notifications.routes.0.kinds.0: Input should be 'ill-health'" in message
    assert all(f"'{kind}'" in message for kind in kinds)
    route = {"min_severity": "loud", "channels": ["mail"]}
    message = config_error({"channels": {"mail": MAIL}, "routes": [route]})
    assert "notifications.routes.0.min_severity: Input should be 'info', 'warning' or " \
        "'critical'" in message


def test_without_routes_every_channel_gets_everything() -> None:
    assert router().channels_for(make_event()) == ["mail", "hook", "am"]


def test_first_matching_route_wins_unless_it_continues() -> None:
    r = router(
        routes=[
            {"kinds": ["spike"], "channels": ["hook"]},
            {
                "min_severity": "critical",
                "deployments": ["shop*"],
                "channels": ["mail"],
                "continue": True,
            },
            {"channels": ["am"]},
        ]
    )
    assert r.channels_for(make_event(kind="spike", title="cpu")) == ["hook"]
    assert r.channels_for(make_event()) == ["mail", "am"]
    assert r.channels_for(make_event(severity="warning")) == ["am"]
    assert r.channels_for(make_event(deployment="blog")) == ["am"]
    assert r.channels_for(make_event(deployment=None, kind="agent-problem")) == ["am"]


def test_per_deployment_overrides() -> None:
    r = router(
        per_deployment={
            "shop": {"channels": ["hook"], "min_severity": "warning"},
            "lab": {"enabled": False},
        }
    )
    assert r.channels_for(make_event()) == ["hook"]
    assert r.channels_for(make_event(severity="info")) == []
    assert r.channels_for(make_event(deployment="lab")) == []
    assert not r.deployment_enabled("lab")
    assert r.channels_for(make_event(deployment="blog")) == ["mail", "hook", "am"]


def test_entry_point_group_adds_channel_kinds(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "owl_plugin.py").write_text(
        "from notify.test_config_routing import PigeonChannel\n"
        "class OwlChannel(PigeonChannel):\n"
        "    kind = 'owl'\n"
    )
    info = tmp_path / "owl_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: owl-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[stackmedic.channels]\nowl = owl_plugin:OwlChannel\nbroken = owl_plugin:Missing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = ChannelRegistry.with_builtins()
    assert "owl" in registry.kinds()
    assert "broken" not in registry.kinds()
