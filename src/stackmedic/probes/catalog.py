"""Every probe declared now: from the deployments' labels and the config, parsed once per
version of each deployment."""

from __future__ import annotations

from dataclasses import replace

from stackmedic.deployments.catalog import Catalog
from stackmedic.deployments.model import Deployment
from stackmedic.probes.config import ProbesConfig
from stackmedic.probes.spec import ProbeLabelError, ProbeSpec, from_config, from_labels


class ProbeCatalog:
    """The probes of every deployment, and the labels or entries that could not be used."""

    def __init__(self, catalog: Catalog, config: ProbesConfig) -> None:
        self._catalog = catalog
        self._config = config
        self._parsed: dict[str, tuple[str, list[ProbeSpec], list[ProbeLabelError]]] = {}

    def _of(self, deployment: Deployment) -> tuple[list[ProbeSpec], list[ProbeLabelError]]:
        cached = self._parsed.get(deployment.name)
        if cached is not None and cached[0] == deployment.fingerprint:
            return cached[1], cached[2]
        specs, errors = from_labels(deployment, self._config)
        outside, wrong = from_config(deployment.name,
                                     self._config.outside.get(deployment.name, []),
                                     self._config)
        errors += wrong
        for spec in outside:
            speaks_for = spec.service or _only_service(deployment)
            if speaks_for is None or speaks_for not in deployment.services:
                errors.append(ProbeLabelError(
                    deployment.name, spec.service, f"probes.outside.{deployment.name}",
                    f"{spec.target}: name the service it speaks for (one of "
                    f"{', '.join(sorted(deployment.services)) or 'none'})"))
                continue
            specs.append(replace(spec, service=speaks_for))
        self._parsed[deployment.name] = (deployment.fingerprint, specs, errors)
        return specs, errors

    def refresh(self) -> tuple[list[ProbeSpec], list[ProbeLabelError]]:
        """Every probe and every error, for the deployments known now."""
        specs: list[ProbeSpec] = []
        errors: list[ProbeLabelError] = []
        names = set(self._catalog.deployments)
        for gone in set(self._parsed) - names:
            del self._parsed[gone]
        for name in sorted(names):
            deployment = self._catalog.get(name)
            if deployment is None or not deployment.valid:
                continue
            mine, wrong = self._of(deployment)
            specs += mine
            errors += wrong
        for name in sorted(set(self._config.outside) - names):
            errors.append(ProbeLabelError(name, None, f"probes.outside.{name}",
                                          "no such deployment"))
        return specs, errors


def _only_service(deployment: Deployment) -> str | None:
    return next(iter(deployment.services)) if len(deployment.services) == 1 else None
