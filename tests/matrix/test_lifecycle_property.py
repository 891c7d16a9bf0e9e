"""Property: whatever people, restart policies, crashes, health flaps, daemon restarts, host
reboots and agent restarts do, in any order, stackmedic keeps its promises.

The steps: a person's stop (API, CLI, `docker stop`, `docker kill`, `docker compose stop`),
start (API, CLI, `docker compose up -d`), pause and unpause; a crash (the main process
SIGKILLed from outside); a healthcheck failing for a spell; a daemon restart (also right as
stackmedic begins a recovery run); a host reboot; stackmedic killed or stopped and started;
a quiet while, in which a crash loop or a flapping healthcheck shows itself.

A few deployments built from the zoo (each with a restart policy) run on the module's private
daemon under a real agent (recovery on, short timings) that mails a real SMTP sink. After
every step, once things had the budget to settle, these hold:

- nothing stopped on purpose is started (the model keeps what a person last asked, with
  Docker's semantics: `docker stop` and `docker kill` are a person's stop, a pause is not,
  and a daemon start restarts what has `restart: always`, or `on-failure` after a non-zero
  exit, whatever a person did);
- a pause is left alone (never undone, stopped or restarted by stackmedic);
- every deployment wanted running and recoverable is running within the budget;
- at most one open problem per deployment, and at most one problem mail per deployment per
  disturbance (none for a person's own action);
- every open problem belongs to a deployment still ill;
- no give-up without three failures of the deployment's own (a shutdown is none);
- every restart summary mail places each deployment on exactly one line.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from support import zoo
from support.agent import RECOVERY_ON, AgentProcess, agent_config, merge
from support.compose import CommandFailed
from support.deployments import PROJECT_LABEL, Deployment, DeploymentFactory
from support.dockerd import PrivateDockerd
from support.lifecycle import (
    NOT_ILL,
    Mail,
    assert_agent_alive,
    desired_states,
    email_channel,
    events_connected,
    mails,
    open_problems,
    outbox_idle,
    recovery_state,
    unaccounted,
    verdicts,
)
from support.servers import SmtpSink
from support.wait import assert_holds, wait_until

pytestmark = pytest.mark.docker

SICK = "/tmp/sick"
# One failing check makes it unhealthy (a flap shows at once). The check fails at once when
# told to; its timeout only has to outlast the engine's own stalls: in CI, with the VM tier
# booting its guest beside, Docker's exec of this check on a container nobody touched took
# more than 10 s (``zoo.CHECK_TIMEOUT``), a real unhealthy that the sequence did not cause.
HEALTHCHECK = {"test": ["CMD-SHELL", f"test ! -f {SICK}"], "interval": "2s",
               "timeout": "30s", "retries": 1}


def flapping(**extra: Any) -> dict[str, Any]:
    """Serves, but its healthcheck fails 5 s out of every 10 s, on its own."""
    spec = zoo.graceful(healthcheck=HEALTHCHECK, **extra)
    spec["command"] = [
        f"(while :; do touch {SICK}; sleep 5; rm -f {SICK}; sleep 5; done) & "
        + spec["command"][0]
    ]
    return spec


KINDS: dict[str, Callable[..., dict[str, Any]]] = {
    "graceful": lambda **e: zoo.graceful(healthcheck=HEALTHCHECK, **e),
    "ignorer": lambda **e: zoo.ignores_term(healthcheck=HEALTHCHECK, **e),
    "exit143": lambda **e: zoo.exits_143(healthcheck=HEALTHCHECK, **e),
    "looper": zoo.crash_looper,
    "flapper": flapping,
}
ILL_BY_NATURE = frozenset({"looper", "flapper"})  # may open a problem in any step
RECOVERABLE = frozenset(KINDS) - {"looper"}
POLICIES = ("no", "on-failure", "always", "unless-stopped")
STOPS = ("api-stop", "cli-stop", "docker-stop", "docker-kill", "compose-stop")
STARTS = ("api-start", "cli-start", "compose-up")
PERSON = (*STOPS, *STARTS, "pause", "unpause")
RESTARTS = ("daemon-restart", "host-reboot", "daemon-restart-mid-recovery")
ACTIVE = frozenset({"running", "restarting", "paused"})
BUDGET = 90.0  # for things to settle after the last disturbance
HOLD = 3.0  # long enough for a wrong start against a stop (intent settles in 2 s)
# A flapping check's problem ends once it passed for `health.flap_seconds` (30 s): it may
# have begun to pass just as the check began (on a loaded host Docker's checks of a 6-s
# flap can land on passing spells for longer than that).
SETTLED_PROBLEMS = 30.0 + 20.0
QUIET = 20.0  # a while with nothing done: a crash loop or a flapping check shows itself
OWN_FAILURES_TO_GIVE_UP = 3


@dataclass(frozen=True)
class Unmet:
    """A falsy answer that says why (a wait that times out shows it)."""

    why: str

    def __bool__(self) -> bool:
        return False


@dataclass
class Site:
    """One deployment and what a person last asked of it."""

    deployment: Deployment
    kind: str
    policy: str
    intent: str | None = "running"  # None: Docker's restart policy decides, not a person
    paused: bool = False
    failures: int = 0  # crashes and health flaps done to it
    disturbances: int = 0  # what may open a problem: failures, restarts, starts of the ill

    @property
    def name(self) -> str:
        """The deployment's name."""
        return self.deployment.name

    def __str__(self) -> str:
        return f"{self.name.rsplit('-', 1)[1]}({self.kind}, restart {self.policy})"


@dataclass
class World:
    """The agent, its daemon and deployments, the mails, and what people meant."""

    daemon: PrivateDockerd
    agent: AgentProcess
    sink: SmtpSink
    factory: DeploymentFactory
    boot_id: Path
    sites: list[Site]
    log: list[str] = field(default_factory=list)
    mails_seen: int = 0
    boots: int = 0

    @classmethod
    def make(cls, base: Path, daemon: PrivateDockerd, image: str,
             specs: Sequence[tuple[str, str]]) -> World:
        factory = DeploymentFactory(root=base / "deployments", image=image,
                                    docker_host=daemon.host)
        factory.root.mkdir()
        sites = [Site(factory.make(f"d{i}", {"app": KINDS[kind](restart=policy)}), kind, policy)
                 for i, (kind, policy) in enumerate(specs)]
        boot_id = base / "boot_id"
        boot_id.write_text("boot-0\n")
        sink = SmtpSink().start()
        config = merge(
            agent_config(base / "data", factory.root, docker_host=daemon.host),
            merge(RECOVERY_ON, {"boot_id_path": str(boot_id),
                                "intent": {"start_settle_seconds": 0.3},
                                "notifications": email_channel(sink)}),
        )
        world = cls(daemon, AgentProcess(config, base / "agent"), sink, factory, boot_id, sites)
        world.log.append("deployed " + ", ".join(str(s) for s in sites))
        try:
            # The agent watches from the start: a crash looper is seen started, not exited.
            world.agent.start()
            wait_until(lambda: set(desired_states(world.agent)) >= {s.name for s in sites}, 60,
                       ignore=(httpx.HTTPError,), message="deployments listed")
            for site in sites:
                site.deployment.up()
            world.check("deployed")
        except BaseException:
            world.close()
            raise
        return world

    def close(self) -> None:
        record = os.environ.get("SMD_PROPERTY_LOG")  # where exploring keeps each sequence
        if record:
            with open(record, "a") as out:
                out.write(f"{self.log}\n")
        try:
            self.agent.close()
            self.factory.cleanup()
        finally:
            self.sink.stop()

    # -- what the engine shows ----------------------------------------------------------

    def states(self) -> dict[str, list[str]]:
        """Each deployment's container states (running, exited, paused, ...)."""
        out = self.daemon.docker(
            "ps", "--all", "--filter", f"label={PROJECT_LABEL}",
            "--format", f'{{{{.Label "{PROJECT_LABEL}"}}}}\t{{{{.State}}}}').stdout
        found: dict[str, list[str]] = {s.name: [] for s in self.sites}
        for line in out.splitlines():
            project, _, state = line.partition("\t")
            if project in found:
                found[project].append(state)
        return found

    def ids(self, site: Site, *states: str) -> list[str]:
        """Container ids of ``site`` in one of ``states``."""
        out = self.daemon.docker(
            "ps", "--all", "--no-trunc", "--filter", f"label={PROJECT_LABEL}={site.name}",
            "--format", "{{.ID}}\t{{.State}}").stdout
        rows = [line.split("\t") for line in out.splitlines() if line]
        return [cid for cid, state in rows if state in states]

    # -- steps --------------------------------------------------------------------------

    def apply(self, step: str, target: int = 0) -> None:
        """Do one step (a person's action, a crash, a flap, a restart), then check."""
        site = self.sites[target % len(self.sites)]
        before = len(self.log)
        touched: set[str] = set()  # deployments disturbed
        if step in PERSON:
            self.log.append(f"{step} {site}")
            self.person(step, site)
        elif step == "crash":
            self.log.append(f"crash {site}")
            if self.crash(site):
                touched.add(site.name)
        elif step == "health-flap":
            self.log.append(f"health-flap {site}")
            if self.health_flap(site):
                touched.add(site.name)
        elif step in RESTARTS:
            self.log.append(step)
            if step == "daemon-restart-mid-recovery":
                self.log[-1] += f" of {site}" if self.recovery_began(site) else " (none began)"
            self.restart(host=step == "host-reboot")
            touched = {s.name for s in self.sites}
        elif step == "quiet":
            self.log.append(f"quiet {QUIET:g}s")
            assert_holds(lambda: self.guarded(True), QUIET, interval=0.5,
                         message=f"nothing stopped on purpose runs, after {self.log}")
        elif step in ("agent-kill", "agent-term"):
            self.log.append(step)
            if step == "agent-kill":
                self.agent.kill()
            else:
                self.agent.terminate()
            self.agent.start()
        else:
            raise ValueError(step)
        for name in touched:
            next(s for s in self.sites if s.name == name).disturbances += 1
        self.check(self.log[before])

    def person(self, step: str, site: Site) -> None:
        states = self.states()[site.name]
        if step in ("api-stop", "api-start"):
            response = self.agent.api("POST", f"/api/deployments/{site.name}/{step[4:]}")
            assert response.status_code == 200, response.text
        elif step in ("cli-stop", "cli-start"):
            result = self.agent.cli(step[4:], site.name)
            assert result.returncode == 0, result.stderr
        elif step in ("docker-stop", "docker-kill"):
            ids = self.ids(site, "running", "paused", "restarting")
            if step == "docker-kill":
                ids = self.ids(site, "running", "paused")  # the engine refuses the others
            if not ids or not self._done(lambda: self.daemon.docker(step[7:], *ids)):
                self.log[-1] += " (nothing to stop)"
                return
        elif step == "compose-stop":
            if not ACTIVE & set(states):
                self.log[-1] += " (nothing to stop)"  # the engine reports nothing then
                return
            site.deployment.stop()
        elif step == "compose-up":
            site.deployment.up()
        elif step == "pause":
            ids = self.ids(site, "running")
            if not ids or not self._done(lambda: self.daemon.docker("pause", *ids)):
                self.log[-1] += " (nothing running)"
                return
            site.paused = True
            return
        elif step == "unpause":
            ids = self.ids(site, "paused")
            if not ids:
                self.log[-1] += " (nothing paused)"
                return
            self.daemon.docker("unpause", *ids)
            site.paused = False
            if site.kind in ILL_BY_NATURE:
                site.disturbances += 1
            return
        site.intent = "stopped" if step.endswith(("-stop", "-kill")) else "running"
        site.paused = "paused" in self.states()[site.name]
        if site.intent == "running" and site.kind in ILL_BY_NATURE:
            site.disturbances += 1  # started again, it is ill again

    @staticmethod
    def _done(command: Callable[[], Any]) -> bool:
        """Run a docker command that may race a container's own exit; False if refused."""
        try:
            command()
        except CommandFailed:
            return False
        return True

    def crash(self, site: Site) -> bool:
        """SIGKILL the service's main process from the host, as a segfault or the kernel
        would: the engine sees it die (137) with no kill of its own."""
        ids = self.ids(site, "running")
        if not ids:
            self.log[-1] += " (not running)"
            return False
        pid = int(self.daemon.docker("inspect", "--format", "{{.State.Pid}}", ids[0])
                  .stdout.strip() or 0)
        if not pid:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        site.failures += 1
        return True

    def health_flap(self, site: Site) -> bool:
        """Make the healthcheck fail until the engine says unhealthy, then pass again."""
        ids = self.ids(site, "running")
        if site.kind not in ("graceful", "ignorer", "exit143") or not ids:
            self.log[-1] += " (no running healthcheck)"
            return False
        if not self._done(lambda: self.daemon.docker("exec", ids[0], "touch", SICK)):
            return False
        site.failures += 1

        def unhealthy() -> bool:
            out = self.daemon.docker("inspect", "--format", "{{.State.Health.Status}}", ids[0],
                                     check=False).stdout.strip()
            return out in ("unhealthy", "")  # "": gone meanwhile

        wait_until(unhealthy, 30, interval=0.2, message=f"{site} unhealthy")
        self._done(lambda: self.daemon.docker("exec", ids[0], "rm", "-f", SICK))
        return True

    def recovery_began(self, site: Site) -> bool:
        """Wait (a while) until stackmedic begins a recovery run on ``site``."""
        path = f"/api/events?kind=recovery-started&deployment={site.name}&limit=200"

        def runs() -> int:
            return len(self.agent.api("GET", path).json()["items"])

        before = runs()
        try:
            wait_until(lambda: runs() > before, 20, interval=0.05, message="a recovery run")
        except AssertionError:
            return False
        return True

    def restart(self, *, host: bool) -> None:
        """A daemon restart, or a host reboot (stackmedic stopped first, as systemd does)."""
        summaries = len([m for m in mails(self.sink) if m.summary])
        docker_starts = [s for s in self.sites if s.intent == "stopped" and self.policy_starts(s)]
        if host:
            self.agent.terminate()
            self.daemon.stop()
            self.boots += 1
            self.boot_id.write_text(f"boot-{self.boots}\n")
            self.daemon.start()
            self.agent.start()
        else:
            self.daemon.restart()
        wait_until(lambda: events_connected(self.agent), 60, ignore=(httpx.HTTPError,),
                   message="agent back on the daemon")
        for site in self.sites:
            site.paused = False  # the shutdown stopped it
        for site in docker_starts:
            site.intent = None  # Docker starts it again, whatever a person did
        wait_until(lambda: len([m for m in mails(self.sink) if m.summary]) > summaries, 180,
                   interval=0.2, message=f"a restart summary mail after {self.log}")

    def policy_starts(self, site: Site) -> bool:
        """Whether the daemon, starting, starts this stopped deployment by its restart policy.

        Docker's rule: `always` whatever stopped it; `on-failure` when it exited non-zero,
        a person's stop included (a SIGTERM ignorer killed after the grace period: 137);
        `unless-stopped` and `no` never after a person's stop.
        """
        if site.policy == "always":
            return True
        if site.policy != "on-failure":
            return False
        ids = self.ids(site, "exited")
        codes = self.daemon.docker("inspect", "--format", "{{.State.ExitCode}}", *ids,
                                   check=False).stdout.split() if ids else []
        return any(code != "0" for code in codes)

    # -- invariants ---------------------------------------------------------------------

    def check(self, step: str) -> None:
        """Every invariant, once the step had the budget to settle."""
        wait_until(lambda: self.guarded(self.running_as_wanted()), BUDGET, interval=0.3,
                   ignore=(httpx.HTTPError,),
                   message=f"wanted running and recoverable runs, after {self.log}")
        assert_holds(lambda: self.guarded(True), HOLD, interval=0.3,
                     message=f"nothing stopped on purpose runs, after {self.log}")
        wait_until(self.desired_recorded, 30, interval=0.3, ignore=(httpx.HTTPError,),
                   message=f"a person's last word recorded as desired state, after {self.log}")
        wait_until(self.problems_consistent, SETTLED_PROBLEMS, interval=0.3,
                   ignore=(httpx.HTTPError,),
                   message=f"every open problem belongs to an ill deployment, after {self.log}")
        # News may wait for the next notice of its deployment (`news_hold_seconds`, 60 s).
        wait_until(lambda: outbox_idle(self.agent), 60 + 30, interval=0.2,
                   message="notifications delivered")
        self.mails_of_step(step)
        assert_agent_alive(self.agent, self.log)

    def running_as_wanted(self) -> bool | Unmet:
        states = self.states()
        down = [s for s in self.sites
                if s.intent == "running" and not s.paused and s.kind in RECOVERABLE
                and set(states[s.name]) != {"running"}]
        if not down:
            return True
        shown = verdicts(self.agent)
        return Unmet("; ".join(
            f"{s}: {states[s.name]}, verdict {shown.get(s.name)}, recovery "
            f"{recovery_state(self.agent, s.name)}" for s in down))

    def guarded(self, value: bool | Unmet) -> bool | Unmet:
        """``value``, after failing on what must never be seen at any moment."""
        states = self.states()
        for site in self.sites:
            now = set(states[site.name])
            if site.intent == "stopped":
                assert not now & {"running", "restarting"}, (
                    f"{site} started against a person's stop: {states[site.name]}, "
                    f"after {self.log}")
            if site.paused:
                assert now == {"paused"}, (
                    f"{site}'s pause undone: {states[site.name]}, after {self.log}")
            if site.kind in RECOVERABLE - ILL_BY_NATURE:
                recovery = recovery_state(self.agent, site.name)
                assert recovery["phase"] != "gave-up" or site.failures >= (
                    OWN_FAILURES_TO_GIVE_UP), (
                    f"{site} gave up after {site.failures} failures of its own "
                    f"({recovery.get('gave_up_reason')}), after {self.log}")
        return value

    def desired_recorded(self) -> bool | Unmet:
        desired = desired_states(self.agent)
        wrong = [f"{s}: {desired.get(s.name)}, not {s.intent}"
                 for s in self.sites if s.intent and desired.get(s.name) != s.intent]
        return Unmet("; ".join(wrong)) if wrong else True

    def problems_consistent(self) -> bool | Unmet:
        # Health episodes; a log-pattern problem of a healthy deployment is its own.
        problems = [p for p in open_problems(self.agent) if p["kind"] == "ill-health"]
        ours = {s.name for s in self.sites}
        per_deployment = [p["deployment"] for p in problems if p["deployment"] in ours]
        for name in set(per_deployment):
            assert per_deployment.count(name) <= 1, (
                f"{name} has {per_deployment.count(name)} open problems: {problems}")
        shown = verdicts(self.agent)
        wrong = [f"{name}: open problem, verdict {shown.get(name)}"
                 for name in per_deployment if shown.get(name) in NOT_ILL]
        return Unmet("; ".join(wrong)) if wrong else True

    def mails_of_step(self, step: str) -> None:
        received = mails(self.sink)
        new, self.mails_seen = received[self.mails_seen:], len(received)
        for site in self.sites:
            problems = [m.subject for m in received
                        if m.problem and not m.severity_change and m.names(site.name)]
            # One problem per disturbance at most; one more for what is ill by nature
            # (a crash loop, a flapping healthcheck), which is one episode however long.
            allowed = site.disturbances + (site.kind in ILL_BY_NATURE)
            assert len(problems) <= allowed, (
                f"{site}: {len(problems)} problem mails for {site.disturbances} disturbances"
                f" (the last step: {step}): {problems}, after {self.log}")
        names = [s.name for s in self.sites]
        for mail in new:
            if mail.summary:
                wrong = unaccounted(mail.text, names)
                assert not wrong, (
                    f"the restart summary places these on the wrong number of lines: {wrong}"
                    f"\n{mail.text}\nafter {self.log}")
        summaries = [m for m in new if m.summary]
        if step in RESTARTS:
            assert len(summaries) == 1, (
                f"{len(summaries)} summary mails for one {step}: "
                f"{[_first(m) for m in summaries]}, after {self.log}")


def _first(mail: Mail) -> str:
    return mail.subject


# Left out of the generated sequences while exploring locally (comma-separated steps and
# kinds), to look past a failure already known.
WITHOUT = frozenset(filter(None, os.environ.get("SMD_PROPERTY_WITHOUT", "").split(",")))


def _steps(steps: Sequence[str]) -> st.SearchStrategy[str]:
    return st.sampled_from([s for s in steps if s not in WITHOUT] or ["quiet"])


TARGET = st.integers(0, 2)  # a deployment, by index (modulo how many there are)
SPECS = st.lists(st.tuples(st.sampled_from(sorted(set(KINDS) - WITHOUT)),
                           st.sampled_from(POLICIES)),
                 min_size=2, max_size=3)


class LifecycleMachine(RuleBasedStateMachine):
    """Random sequences of what happens to deployments, checked after every step."""

    daemon: ClassVar[PrivateDockerd]
    image: ClassVar[str]
    folders: ClassVar[pytest.TempPathFactory]

    def __init__(self) -> None:
        super().__init__()
        self.world: World | None = None

    @initialize(specs=SPECS)
    def deploy(self, specs: list[tuple[str, str]]) -> None:
        self.world = World.make(self.folders.mktemp("life"), self.daemon, self.image, specs)

    def _apply(self, step: str, target: int = 0) -> None:
        assert self.world is not None
        self.world.apply(step, target)

    @rule(how=_steps(STOPS), which=TARGET)
    def stop(self, how: str, which: int) -> None:
        self._apply(how, which)

    @rule(how=_steps(STARTS), which=TARGET)
    def start(self, how: str, which: int) -> None:
        self._apply(how, which)

    @rule(which=TARGET)
    def pause(self, which: int) -> None:
        self._apply("quiet" if "pause" in WITHOUT else "pause", which)

    @precondition(lambda self: self.world is not None and any(s.paused for s in self.world.sites))
    @rule()
    def unpause(self) -> None:
        assert self.world is not None
        self._apply("unpause", next(i for i, s in enumerate(self.world.sites) if s.paused))

    @rule(which=TARGET)
    def crash(self, which: int) -> None:
        self._apply("quiet" if "crash" in WITHOUT else "crash", which)

    @rule(which=TARGET)
    def health_flap(self, which: int) -> None:
        self._apply("quiet" if "health-flap" in WITHOUT else "health-flap", which)

    @rule(step=_steps(RESTARTS))
    def restart(self, step: str) -> None:
        self._apply(step)

    @rule()
    def quiet(self) -> None:
        self._apply("quiet")

    @rule(step=_steps(("agent-kill", "agent-term")))
    def agent_restart(self, step: str) -> None:
        self._apply(step)

    def teardown(self) -> None:
        if self.world is not None:
            self.world.close()


EXAMPLES = int(os.environ.get("SMD_PROPERTY_EXAMPLES", "6"))
STEPS = int(os.environ.get("SMD_PROPERTY_STEPS", "5"))


@pytest.mark.timeout(max(900, EXAMPLES * STEPS * 60))
def test_lifecycle_invariants_hold_in_any_order(
    tmp_path_factory: pytest.TempPathFactory, private_dockerd: PrivateDockerd, busybox_image: str
) -> None:
    class Machine(LifecycleMachine):
        pass

    Machine.daemon = private_dockerd
    Machine.image = busybox_image
    Machine.folders = tmp_path_factory
    explore = bool(os.environ.get("SMD_PROPERTY_RANDOM"))
    run_state_machine_as_test(
        Machine,
        settings=settings(
            # The same sequences on every run, so CI is repeatable; explore locally with
            # SMD_PROPERTY_RANDOM set (random sequences, and shrinking what fails) and more
            # SMD_PROPERTY_EXAMPLES / SMD_PROPERTY_STEPS.
            max_examples=EXAMPLES, stateful_step_count=STEPS,
            deadline=None, database=None, derandomize=not explore,
            # Each example drives a real daemon for a minute or two: shrinking takes long.
            phases=[Phase.generate, Phase.shrink] if explore else [Phase.generate],
            suppress_health_check=[HealthCheck.function_scoped_fixture,
                                   HealthCheck.too_slow],
        ),
    )


# Each counterexample found, replayed as it was: (deployments, steps).
REPLAYS: dict[str, tuple[list[tuple[str, str]], list[tuple[str, int]]]] = {
    # A pause is a person's deliberate act: it opened a CRITICAL "down: app paused" problem.
    "pause": ([("graceful", "no")], [("pause", 0)]),
    # `docker kill` is a person's stop: stackmedic started it again, policy or none.
    "kill-no-policy": ([("exit143", "no")], [("docker-kill", 0)]),
    "kill-restart-always": ([("graceful", "always")], [("docker-kill", 0)]),
    # The shutdowns killed what stackmedic had brought back; counted as relapses, they made
    # recovery give up on a deployment that never failed on its own.
    "three-daemon-restarts": ([("graceful", "no")],
                              [("daemon-restart", 0), ("daemon-restart", 0),
                               ("daemon-restart", 0)]),
    # A healthcheck failing 5 s of every 10 s: a problem mail per flap, not one episode.
    "flapping-healthcheck": ([("flapper", "unless-stopped")], [("quiet", 0)]),
    # A daemon restart while stackmedic recovers a crash loop: the shutdown's stops were
    # taken for a person's, and the deployment beside it stayed stopped "as desired". A
    # race: it failed in 2 of 6 runs here (the same with a step before it: 4 of 6).
    "mid-recovery": ([("looper", "on-failure"), ("graceful", "on-failure")],
                     [("daemon-restart-mid-recovery", 0)]),
    # A stop through stackmedic of a service Docker's on-failure policy keeps restarting:
    # it ran again afterwards.
    "api-stop-looper": ([("flapper", "unless-stopped"), ("looper", "on-failure")],
                        [("api-stop", 1)]),
    # (Its first two steps alone failed once under heavy load (CI): a flapping check passed
    # for its whole flap time just as the check of open problems began, which waited no
    # longer than that; it now waits the flap time and a margin.)
    # The agent restarted while a flapping check happened to pass: the new agent resolved
    # the problem at once and told the next unhealthy spell as a second problem.
    "flap-agent-restart": ([("flapper", "on-failure"), ("flapper", "always"), ("ignorer", "no")],
                           [("pause", 0), ("agent-term", 0)]),
    # The same, the agent stopped while the check failed: the new agent's first verdict,
    # healthy, ended the problem at once (CI, 1 run in 2).
    "flap-agent-restart-then-stop": ([("flapper", "on-failure"), ("flapper", "always"),
                                      ("ignorer", "no")],
                                     [("pause", 0), ("agent-term", 0), ("compose-stop", 0)]),
}


@pytest.mark.parametrize("name", sorted(REPLAYS))
def test_lifecycle_replay(
    name: str, tmp_path: Path, private_dockerd: PrivateDockerd, busybox_image: str
) -> None:
    specs, steps = REPLAYS[name]
    world = World.make(tmp_path, private_dockerd, busybox_image, specs)
    try:
        for step, target in steps:
            world.apply(step, target)
    finally:
        world.close()
