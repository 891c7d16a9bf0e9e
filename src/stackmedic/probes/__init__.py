"""Endpoint probes: HTTP, HTTPS and TCP checks of the services, run from inside each
container's network namespace (or from the host for outside URLs), as a health signal.

A probe failing enough times in a row makes its service ``unhealthy`` with the probe's
reason: the verdict, alert episodes and recovery take it from there (``health.verdict``'s
``with_probe`` is the one seam). Certificates about to expire and a host whose every probe
fails are told here (``notices``); results are exposed under the blackbox exporter's names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackmedic.lazy import lazy_exports

if TYPE_CHECKING:
    from stackmedic.probes.build import Probes, build_probes
    from stackmedic.probes.config import OutsideProbe, ProbesConfig

# Loaded on first access: the config schema imports ``probes.config`` alone, without the
# engine client the probes themselves need.
_LAZY = {
    "Probes": "stackmedic.probes.build",
    "build_probes": "stackmedic.probes.build",
    "OutsideProbe": "stackmedic.probes.config",
    "ProbesConfig": "stackmedic.probes.config",
}

__all__ = ["OutsideProbe", "Probes", "ProbesConfig", "build_probes"]

__getattr__ = lazy_exports(globals(), _LAZY)
