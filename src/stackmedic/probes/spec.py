"""What to probe: probes declared by Compose labels and by the config, checked and parsed.

Labels of a service (the container's own network namespace is where its probes run)::

    stackmedic.probe.http: "http://:8080/healthz"   # host empty: the container itself
    stackmedic.probe.tcp: ":5432"
    stackmedic.probe.interval: "10s"     stackmedic.probe.timeout: "3s"
    stackmedic.probe.status: "200-299"   stackmedic.probe.body: "ok"
    stackmedic.probe.failures: "3"       stackmedic.probe.tls_verify: "false"
    stackmedic.probe.tls_ca: "/etc/ssl/my-ca.pem"

A named host in an in-container URL is sent as ``Host`` and TLS name; the connection
still goes to the container's own loopback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from stackmedic.deployments.model import Deployment, go_duration
from stackmedic.probes.config import OutsideProbe, ProbesConfig
from stackmedic.types import ProbeKind

PREFIX = "stackmedic.probe."
_OPTIONS = ("interval", "timeout", "status", "body", "failures", "tls_verify", "tls_ca")
_STATUS = re.compile(r"^\d{3}(-\d{3})?$")
_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


@dataclass(frozen=True)
class ProbeSpec:
    """One probe: what it asks, where from, how often, and what counts as a pass."""

    deployment: str
    service: str | None  # None: an outside probe speaking for the whole deployment
    kind: ProbeKind
    target: str  # as written: the label or config value
    host: str  # where to connect: in a container, "" means its loopback
    port: int
    path: str = "/"
    tls: bool = False
    inside: bool = True  # run in the service's container's network namespace
    interval: float = 10.0
    timeout: float = 5.0
    status: tuple[tuple[int, int], ...] = ((200, 399),)
    body: str | None = None
    failures: int = 3
    tls_verify: bool = True
    tls_ca: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """(deployment, service, target): what it is known by in metrics and answers."""
        return self.deployment, self.service or "", self.target

    @property
    def server_name(self) -> str | None:
        """The name sent as ``Host`` and TLS server name."""
        return self.host or None

    def status_ok(self, code: int) -> bool:
        """Whether ``code`` is one of the expected statuses."""
        return any(low <= code <= high for low, high in self.status)


@dataclass(frozen=True)
class ProbeLabelError:
    """A probe label that could not be used: named with its deployment and service."""

    deployment: str
    service: str | None
    label: str
    message: str

    def describe(self) -> str:
        """``shop/web: label stackmedic.probe.timeout: not a duration: 'soon'``."""
        where = f"{self.deployment}/{self.service}" if self.service else self.deployment
        return f"{where}: {self.label}: {self.message}"

    def as_dict(self) -> dict[str, str | None]:
        """JSON-ready form."""
        return {"deployment": self.deployment, "service": self.service, "label": self.label,
                "message": self.message, "text": self.describe()}


class _Invalid(ValueError):
    def __init__(self, label: str, message: str) -> None:
        super().__init__(message)
        self.label = label


def _seconds(label: str, value: str) -> float:
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        if not _DURATION.match(text):
            raise _Invalid(label, f"not a duration: {value!r} (e.g. 10s, 1m30s)") from None
        seconds = go_duration(text)
    if seconds <= 0:
        raise _Invalid(label, f"must be more than 0: {value!r}")
    return seconds


def parse_status(label: str, value: str) -> tuple[tuple[int, int], ...]:
    """``200``, ``200-299`` or ``200,204``: the expected statuses as ranges."""
    ranges = []
    for part in value.replace(" ", "").split(","):
        if not _STATUS.match(part):
            raise _Invalid(label, f"not a status or range of statuses: {value!r}")
        low, _, high = part.partition("-")
        ranges.append((int(low), int(high or low)))
    return tuple(ranges)


def _endpoint(label: str, kind: ProbeKind, value: str, *, inside: bool
              ) -> tuple[str, int, str, bool]:
    text = value.strip()
    if kind is ProbeKind.TCP:
        text = text.removeprefix("tcp://")
        host, sep, number = text.rpartition(":")
        if not sep or not number.isdigit() or not 0 < int(number) < 65536:
            raise _Invalid(label, f"not a [host]:port: {value!r}")
        if not inside and not host:
            raise _Invalid(label, f"an outside probe needs a host: {value!r}")
        return host.strip("[]"), int(number), "", False
    try:
        parts = urlsplit(text)
        given = parts.port
    except ValueError as exc:
        raise _Invalid(label, f"not a URL: {value!r} ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise _Invalid(label, f"not an http:// or https:// URL: {value!r}")
    if not inside and not parts.hostname:
        raise _Invalid(label, f"an outside probe needs a host: {value!r}")
    tls = parts.scheme == "https"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname or "", given or (443 if tls else 80), path, tls


def _build(deployment: str, service: str | None, kind: ProbeKind, label: str, value: str,
           options: dict[str, str], defaults: ProbesConfig, *, inside: bool) -> ProbeSpec:
    host, port, path, tls = _endpoint(label, kind, value, inside=inside)
    failures = options.get("failures")
    if failures is not None and (not failures.strip().isdigit() or int(failures) < 1):
        raise _Invalid(PREFIX + "failures", f"not a whole number of at least 1: {failures!r}")
    verify = options.get("tls_verify", "true").strip().lower()
    if verify not in ("true", "false", "1", "0", "yes", "no"):
        raise _Invalid(PREFIX + "tls_verify", f"not true or false: {verify!r}")
    interval = options.get("interval")
    timeout = options.get("timeout")
    status = options.get("status")
    return ProbeSpec(
        deployment=deployment, service=service, kind=kind, target=value.strip(), host=host,
        port=port, path=path, tls=tls, inside=inside,
        interval=_seconds(PREFIX + "interval", interval) if interval else defaults.interval_seconds,
        timeout=_seconds(PREFIX + "timeout", timeout) if timeout else defaults.timeout_seconds,
        status=parse_status(PREFIX + "status", status) if status else ((200, 399),),
        body=options.get("body") or None,
        failures=int(failures) if failures else defaults.failures,
        tls_verify=verify in ("true", "1", "yes"),
        tls_ca=options.get("tls_ca") or None,
    )


def from_labels(deployment: Deployment, defaults: ProbesConfig
                ) -> tuple[list[ProbeSpec], list[ProbeLabelError]]:
    """The probes the services' labels declare, and each label that is wrong."""
    specs: list[ProbeSpec] = []
    errors: list[ProbeLabelError] = []
    for name, service in sorted(deployment.services.items()):
        mine = {k: v for k, v in service.labels.items() if k.startswith(PREFIX)}
        options = {k[len(PREFIX):]: v for k, v in mine.items()
                   if k[len(PREFIX):] in _OPTIONS}
        for label in sorted(set(mine) - {PREFIX + o for o in options}):
            kind = label[len(PREFIX):]
            if kind not in (ProbeKind.HTTP.value, ProbeKind.TCP.value):
                errors.append(ProbeLabelError(
                    deployment.name, name, label,
                    "unknown probe label (known: http, tcp, " + ", ".join(_OPTIONS) + ")"))
                continue
            try:
                specs.append(_build(deployment.name, name, ProbeKind(kind), label, mine[label],
                                    options, defaults, inside=True))
            except _Invalid as exc:
                errors.append(ProbeLabelError(deployment.name, name, exc.label, str(exc)))
        if options and not any(PREFIX + k in mine for k in ("http", "tcp")):
            errors.append(ProbeLabelError(
                deployment.name, name, PREFIX + sorted(options)[0],
                f"no {PREFIX}http or {PREFIX}tcp label for it to apply to"))
    return specs, errors


def from_config(deployment: str, entries: list[OutsideProbe], defaults: ProbesConfig
                ) -> tuple[list[ProbeSpec], list[ProbeLabelError]]:
    """The outside probes the config declares for one deployment."""
    specs: list[ProbeSpec] = []
    errors: list[ProbeLabelError] = []
    for index, entry in enumerate(entries):
        label = f"probes.outside.{deployment}[{index}].url"
        kind = ProbeKind.TCP if entry.url.startswith("tcp://") else ProbeKind.HTTP
        options = {k: str(v) for k, v in {
            "interval": entry.interval_seconds, "timeout": entry.timeout_seconds,
            "status": entry.status, "body": entry.body, "failures": entry.failures,
            "tls_ca": entry.tls_ca}.items() if v is not None}
        options["tls_verify"] = str(entry.tls_verify)
        try:
            specs.append(_build(deployment, entry.service, kind, label, entry.url, options,
                                defaults, inside=False))
        except _Invalid as exc:
            errors.append(ProbeLabelError(deployment, entry.service, exc.label, str(exc)))
    return specs, errors
