"""The built-in diagnosis: evidence in, a diagnosis with suggested actions out (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from stackmedic.recovery.evidence import Evidence, ServiceEvidence
from stackmedic.recovery.suggestions import ServiceAction, Suggestion

REPEATED_OOM = 2


@dataclass
class Diagnosis:
    """What is wrong, what to do about it, and whether only a person can fix it."""

    summary: str
    suggestions: list[Suggestion] = field(default_factory=list)
    needs_human: str | None = None
    source: str = "rules"
    details: list[str] = field(default_factory=list)
    log_tail: dict[str, list[str]] = field(default_factory=dict)
    llm: dict[str, object] | None = None  # what the adviser answered and whether it was used
    followers: list[str] = field(default_factory=list)  # dependents restarted after the rest

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "summary": self.summary,
            "source": self.source,
            "needs_human": self.needs_human,
            "details": self.details,
            "suggestions": [s.model_dump(mode="json") for s in self.suggestions],
            "log_tail": self.log_tail,
            "llm": self.llm,
            "followers": self.followers,
        }


def _suggest(service: str, action: ServiceAction, title: str, reason: str) -> Suggestion:
    return Suggestion(service=service, action=action, title=title, reason=reason)


def diagnose(evidence: Evidence) -> Diagnosis:
    """Apply the rules, most specific first, to every service that needs attention."""
    if not evidence.docker_reachable:
        return Diagnosis("Docker is unreachable; nothing can be done until it answers",
                         needs_human="docker unreachable")
    if not evidence.compose_valid:
        return Diagnosis(
            "the compose file is invalid: " + (evidence.compose_error or "unknown error"),
            needs_human="compose file invalid",
        )
    suggestions: list[Suggestion] = []
    details: list[str] = []
    human: list[str] = []
    for network in evidence.missing_networks:
        suggestions.append(_suggest(
            network, ServiceAction.CREATE_NETWORK, f"create network {network}",
            f"external network {network} does not exist",
        ))
        details.append(f"external network {network} is missing")
    for service in evidence.problem_services():
        if not service.recover:
            details.append(f"{service.name}: {service.status}, but recovery is off for it "
                           "(stackmedic.recover=false)")
            continue
        lost = set(evidence.missing_networks) | set(evidence.recreated_networks)
        found, problem = _rule_for(service, lost_networks=sorted(lost & set(service.networks)))
        details.append(problem)
        if found is None:
            human.append(problem)
        else:
            suggestions.extend(found)
    if human and not suggestions:
        return Diagnosis("; ".join(human), needs_human="; ".join(human), details=details)
    if not suggestions:
        why = "; ".join(details) or "every service is as desired"
        return Diagnosis(f"nothing to do: {why}", details=details)
    summary = "; ".join(details)
    return Diagnosis(summary, suggestions, needs_human="; ".join(human) or None,
                     details=details)


def _rule_for(
    service: ServiceEvidence, *, lost_networks: list[str]
) -> tuple[list[Suggestion] | None, str]:
    name = service.name
    # Between two kills a policy-restarted container runs, its OOM flag reset by the start:
    # the loop, and the kills counted across it, say it all the same.
    # behaviour: oom-loop-policy-restarts
    looping = service.status in ("crash-looping", "restarting")
    if service.oom_kills_recent >= REPEATED_OOM and (service.oom_killed or looping):
        return None, (f"{name} was OOM-killed {service.oom_kills_recent} times; "
                      "restarting it again would loop: raise its memory limit or fix the leak")
    if service.image and service.image_present is False:
        if service.has_build:
            return [_suggest(name, ServiceAction.REBUILD, f"rebuild {name}",
                             f"image {service.image} is not present and {name} has a build "
                             "context")], f"{name}: image {service.image} is missing locally"
        return [_suggest(name, ServiceAction.PULL, f"pull {name}",
                         f"image {service.image} is not present locally")], (
            f"{name}: image {service.image} is missing locally")
    if service.drifted:
        return [_suggest(name, ServiceAction.RECREATE, f"recreate {name}",
                         "its container no longer matches the compose file")], (
            f"{name}: container differs from the compose file")
    status = service.status
    if lost_networks and status in ("exited", "dead", "created"):
        nets = ", ".join(lost_networks)
        return [_suggest(name, ServiceAction.RECREATE, f"recreate {name}",
                         f"its container refers to network {nets}, which had to be "
                         "created again")], f"{name} {status}; its network {nets} was missing"
    if status == "missing":
        return [_suggest(name, ServiceAction.START, f"create and start {name}",
                         "declared in the compose file but has no container")], (
            f"{name} has no container")
    if status in ("exited", "dead", "created"):
        code = f" with code {service.exit_code}" if service.exit_code is not None else ""
        oom = " after an OOM kill" if service.oom_killed else ""
        why = f"{name} {status}{code}{oom}"
        if not service.restart_policy or service.restart_policy == "no":
            why += " and has no restart policy"
        return [_suggest(name, ServiceAction.START, f"start {name}", why)], why
    if status == "unhealthy":
        output = f": {service.health_output.strip()[:200]}" if service.health_output else ""
        what = "endpoint" if output.startswith(": probe ") else "healthcheck"  # probes/
        return [_suggest(name, ServiceAction.RESTART, f"restart {name}",
                         f"{what} failing{output}")], f"{name} unhealthy{output}"
    if status in ("crash-looping", "restarting"):
        return _loop_rule(service)
    if status == "paused":
        return [], f"{name} is paused; a person paused it, so it is left alone"
    return None, f"{name} is {status}; no rule applies"


def _loop_rule(service: ServiceEvidence) -> tuple[list[Suggestion] | None, str]:
    """A service that keeps dying: Docker's to restart while its policy does so.

    stackmedic never starts or restarts a container Docker's policy is restarting (that
    would race it); the one thing it can add is a fresh container, once (a second
    recreate that failed the same way gives up, ``escalate``). Once the policy no longer
    restarts it (``no``, ``on-failure`` retries used up), it is an exited service.

    behaviour: loop-policy-restarts, loop-on-failure-retries-used, oom-loop-policy-restarts
    """
    name = service.name
    codes = ", ".join(str(c) for c in service.exit_codes) or "unknown"
    if not service.docker_restarts:
        policy = service.restart_policy or "no"
        why = f"{name} crash-looping (exit codes {codes}); " + (
            "it has no restart policy" if policy == "no"
            else f"its restart policy ({policy}) does not restart it any more")
        return [_suggest(name, ServiceAction.START, f"start {name}", why)], why
    if service.status == "restarting":
        return [], f"{name} restarting: Docker's restart policy is restarting it"
    why = (f"{name} crash-looping (exit codes {codes}) while Docker's restart policy "
           f"({service.restart_policy}) restarts it")
    return [_suggest(name, ServiceAction.RECREATE, f"recreate {name}",
                     f"{why}; a fresh container is what its restarts do not give")], why
