"""Email channel: SMTP through aiosmtplib with a text and an HTML part."""

from __future__ import annotations

import re
import ssl
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, ClassVar

import aiosmtplib
import structlog

from stackmedic.notify.channel_config import ChannelSettings, EmailChannelConfig
from stackmedic.notify.channels.base import Channel
from stackmedic.notify.errors import ChannelRejected, ChannelUnreachable, DeliveryError
from stackmedic.notify.models import RenderedMessage

_NOT_DOMAIN = re.compile(r"[^A-Za-z0-9.-]")


def _one_line(text: str, limit: int = 250) -> str:
    """Collapse whitespace so a header stays on one line, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class EmailChannel(Channel):
    """Sends one email per notification to every configured recipient."""

    kind: ClassVar[str] = "email"
    config_model: ClassVar[type[ChannelSettings]] = EmailChannelConfig
    secret_fields: ClassVar[frozenset[str]] = frozenset({"password"})
    max_title_length: ClassVar[int | None] = 250

    def __init__(
        self, name: str, settings: ChannelSettings, *, tls_context: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(name, settings)
        assert isinstance(settings, EmailChannelConfig)
        self.config = settings
        self._tls_context = tls_context
        self._log = structlog.get_logger(__name__).bind(channel=name)

    def build(self, message: RenderedMessage) -> EmailMessage:
        """Return the email for a message; its Message-ID carries the idempotency key."""
        cfg = self.config
        email = EmailMessage()
        subject = message.model_copy(update={"subject_prefix": cfg.subject_prefix}).subject
        email["Subject"] = _one_line(subject)
        email["From"] = cfg.from_address
        email["To"] = ", ".join(cfg.to)
        email["Date"] = format_datetime(message.created_at)
        domain = _NOT_DOMAIN.sub("-", message.host) or "stackmedic"
        email["Message-ID"] = f"<{message.idempotency_key}@{domain}>"
        email["Auto-Submitted"] = "auto-generated"
        email["X-Stackmedic-Notification"] = str(message.notification_id)
        email["X-Stackmedic-Status"] = message.status
        email["X-Stackmedic-Severity"] = message.severity
        if message.deployment:
            email["X-Stackmedic-Deployment"] = message.deployment
        email.set_content(message.text)
        email.add_alternative(message.html, subtype="html")
        return email

    def smtp_options(self) -> dict[str, Any]:
        """Return the connection keywords for ``aiosmtplib.send``."""
        cfg = self.config
        options: dict[str, Any] = {
            "hostname": cfg.host,
            "port": cfg.effective_port,
            "timeout": cfg.timeout_seconds,
            "use_tls": cfg.security == "tls",
            "start_tls": cfg.security == "starttls",
            "validate_certs": cfg.verify_tls,
        }
        if self._tls_context is not None:
            options["tls_context"] = self._tls_context
        if cfg.username and cfg.password is not None:
            options["username"] = cfg.username
            options["password"] = cfg.password.get_secret_value()
        return options

    async def send(self, message: RenderedMessage) -> None:
        """Send the email; raise ``DeliveryError`` when the server cannot take it."""
        email = self.build(message)
        try:
            refused, _ = await aiosmtplib.send(
                email,
                sender=self.config.from_address,
                recipients=list(self.config.to),
                **self.smtp_options(),
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise ChannelRejected(
                f"every recipient refused ({len(exc.recipients)})", permanent=True
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise ChannelRejected(
                f"SMTP {exc.code} ({type(exc).__name__}): {_one_line(exc.message, 200)}",
                status=exc.code,
                permanent=500 <= exc.code < 600
                and not isinstance(exc, aiosmtplib.SMTPAuthenticationError),
            ) from None
        except aiosmtplib.SMTPTimeoutError as exc:
            raise ChannelUnreachable(f"SMTP timed out ({type(exc).__name__})") from None
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError) as exc:
            raise ChannelUnreachable(f"cannot reach SMTP server ({type(exc).__name__})") from None
        except aiosmtplib.SMTPException as exc:
            raise DeliveryError(
                f"SMTP error ({type(exc).__name__}): {_one_line(str(exc), 200)}"
            ) from None
        if refused:
            self._log.warning("email recipients refused", refused=sorted(refused))
