"""The ``probes:`` section of the agent config: defaults and probes of outside URLs."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PositiveSeconds = Annotated[float, Field(gt=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class OutsideProbe(_Section):
    """A URL probed from the agent's host, e.g. the public address behind a proxy."""

    url: str
    """``http://``, ``https://`` or ``tcp://host:port``."""
    service: str | None = None
    """The service it speaks for: its failure is that service's; unset, the deployment's."""
    interval_seconds: PositiveSeconds | None = None
    """How often it runs (default: probes.interval_seconds)."""
    timeout_seconds: PositiveSeconds | None = None
    """How long one attempt may take (default: probes.timeout_seconds)."""
    status: str | None = None
    """Expected HTTP status: ``200``, ``200-299``, ``200,204`` (default: 200-399)."""
    body: str | None = None
    """Text the answer's body must contain."""
    failures: int | None = Field(default=None, ge=1)
    """Failures in a row before it counts (default: probes.failures)."""
    tls_verify: bool = True
    """Check an HTTPS certificate's chain and name (expiry is always read)."""
    tls_ca: str | None = None
    """A PEM file of the certificate authority to trust instead of the system's."""


class ProbesConfig(_Section):
    """Endpoint probes: HTTP, HTTPS and TCP checks of the services, as their users see them."""

    enabled: bool = True
    """Run the probes declared by ``stackmedic.probe.*`` labels and ``outside`` entries."""
    interval_seconds: PositiveSeconds = 10
    """How often a probe runs unless its label says otherwise."""
    timeout_seconds: PositiveSeconds = 5
    """How long one attempt may take unless its label says otherwise."""
    failures: int = Field(default=3, ge=1)
    """Failures in a row before a probe makes its service unhealthy."""
    grace_seconds: PositiveSeconds = 5
    """A container is first probed this long after it started."""
    concurrency: int = Field(default=32, ge=1, le=1024)
    """Probes in flight at once."""
    cert_warning_days: float = Field(default=14, gt=0)
    """An HTTPS certificate expiring within this many days is a warning."""
    cert_critical_days: float = Field(default=3, gt=0)
    """...and within this many days (or expired) critical."""
    host_failure_min_probes: int = Field(default=3, ge=2)
    """When at least this many probes, of two deployments or more, all fail at once, it is
    one problem of the host's network, not one problem per deployment."""
    outside: dict[str, list[OutsideProbe]] = Field(default_factory=dict)
    """Probes of URLs outside the host, by deployment name."""
    outside_namespace: str | None = None
    """Network namespace file the outside probes run in (default: the agent's own)."""
