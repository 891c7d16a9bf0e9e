"""The pure parts of probes: labels parsed or refused by name, what a run of results says
to a service's verdict, certificate severities, and every probe failing at once."""

from __future__ import annotations

from dataclasses import replace

from stackmedic.deployments.model import Deployment, DeploymentKind, ServiceSpec
from stackmedic.health.model import ProbeStanding, ServiceStatus, Verdict
from stackmedic.health.verdict import HealthInputs, evaluate
from stackmedic.observe.containers import ContainerState
from stackmedic.probes.book import ProbeBook, run_of
from stackmedic.probes.config import OutsideProbe, ProbesConfig
from stackmedic.probes.notices import cert_severity, host_failure
from stackmedic.probes.result import ProbeResult
from stackmedic.probes.spec import ProbeSpec, from_config, from_labels
from stackmedic.types import DesiredState, ProbeFailure, ProbeKind, Severity

NOW = 1_700_000_000.0
CONFIG = ProbesConfig()


def deployment(name: str = "shop", **labels: dict[str, str]) -> Deployment:
    return Deployment(name=name, project=name, kind=DeploymentKind.FOLDER, path=None, files=[],
                      services={s: ServiceSpec(name=s, labels=v) for s, v in labels.items()})


def container(service: str, started: float = NOW - 3600, **fields: object) -> ContainerState:
    return ContainerState(id=f"id-{service}", name=f"shop-{service}-1", project="shop",
                          service=service, status="running", started_at=started,
                          **fields)  # type: ignore[arg-type]


def test_labels_declare_http_and_tcp_probes_with_their_options() -> None:
    specs, errors = from_labels(deployment(
        web={"stackmedic.probe.http": "https://shop.example:8443/healthz?deep=1",
             "stackmedic.probe.interval": "1m30s", "stackmedic.probe.timeout": "500ms",
             "stackmedic.probe.status": "200,204-206", "stackmedic.probe.body": "ok",
             "stackmedic.probe.failures": "5"},
        db={"stackmedic.probe.tcp": ":5432"}), CONFIG)
    assert errors == []
    db, web = specs
    assert (db.kind, db.host, db.port, db.interval, db.failures) == (
        ProbeKind.TCP, "", 5432, CONFIG.interval_seconds, CONFIG.failures)
    assert (web.host, web.port, web.path, web.tls) == ("shop.example", 8443, "/healthz?deep=1",
                                                       True)
    assert (web.interval, web.timeout, web.body, web.failures) == (90.0, 0.5, "ok", 5)
    assert [web.status_ok(c) for c in (200, 204, 205, 207, 500)] == [True] * 3 + [False] * 2
    assert web.inside and web.key == ("shop", "web", "https://shop.example:8443/healthz?deep=1")


def test_each_bad_label_is_named_with_its_deployment_and_the_rest_still_parse() -> None:
    specs, errors = from_labels(deployment(
        a={"stackmedic.probe.http": "ftp://x/"},
        b={"stackmedic.probe.tcp": "5432"},
        c={"stackmedic.probe.http": "http://:80/", "stackmedic.probe.timeout": "soon"},
        d={"stackmedic.probe.http": "http://:80/", "stackmedic.probe.status": "OK"},
        e={"stackmedic.probe.htp": "http://:80/"},
        f={"stackmedic.probe.interval": "5s"},
        g={"stackmedic.probe.http": "http://:80/", "stackmedic.probe.failures": "0"},
        ok={"stackmedic.probe.tcp": ":6379"}), CONFIG)
    assert [s.service for s in specs] == ["ok"]
    found = {e.service: (e.label, e.message) for e in errors}
    assert found["a"] == ("stackmedic.probe.http", "not an http:// or https:// URL: 'ftp://x/'")
    assert found["b"] == ("stackmedic.probe.tcp", "not a [host]:port: '5432'")
    assert found["c"][0] == "stackmedic.probe.timeout" and "'soon'" in found["c"][1]
    assert found["d"][0] == "stackmedic.probe.status"
    assert found["e"][0] == "stackmedic.probe.htp" and "unknown probe label" in found["e"][1]
    assert found["f"][0] == "stackmedic.probe.interval" and "no stackmedic.probe.http" in \
        found["f"][1]
    assert found["g"][0] == "stackmedic.probe.failures"
    assert errors[0].describe().startswith("shop/a: stackmedic.probe.http: ")


def test_outside_probes_need_a_host() -> None:
    specs, errors = from_config("shop", [OutsideProbe(url="https://shop.example/"),
                                         OutsideProbe(url="http:///x"),
                                         OutsideProbe(url="tcp://db.example:5432")], CONFIG)
    assert [(s.host, s.port, s.inside) for s in specs] == [
        ("shop.example", 443, False), ("db.example", 5432, False)]
    assert [e.label for e in errors] == ["probes.outside.shop[1].url"]


def _spec(service: str = "web", failures: int = 3, deployment: str = "shop") -> ProbeSpec:
    return ProbeSpec(deployment, service, ProbeKind.HTTP, "http://:80/", "", 80,
                     failures=failures, interval=10.0, timeout=5.0)


def _result(failure: ProbeFailure | None = None, reason: str = "") -> ProbeResult:
    return ProbeResult(NOW, 0.01, failure, reason)


def test_failures_in_a_row_make_the_service_unhealthy_with_the_probe_reason() -> None:
    book = ProbeBook(grace=5)
    book.sync([_spec()])
    record = book.get(("shop", "web", "http://:80/"))
    assert record is not None
    web = container("web")
    for _ in range(2):
        record.record(run_of(web), web.started_at, _result(ProbeFailure.STATUS, "HTTP 500"))
    assert book.standing("shop", [web], NOW) == {}  # two of three: not yet
    record.record(run_of(web), web.started_at, _result(ProbeFailure.STATUS, "HTTP 500"))
    standing = book.standing("shop", [web], NOW)
    assert standing == {"web": ProbeStanding(
        failing="probe http://:80/ failed 3 times in a row: HTTP 500")}
    health = evaluate(HealthInputs(deployment(web={}), [web], DesiredState.RUNNING, NOW,
                                   probes=standing))
    assert health.verdict is Verdict.DEGRADED  # it runs: as a failing healthcheck is
    assert health.reason == "web unhealthy: probe http://:80/ failed 3 times in a row: HTTP 500"
    # A restart is a new run: the old failures no longer count, and until the probe
    # passes on it the service is starting, not healthy.
    restarted = replace(web, started_at=NOW - 1)
    assert book.standing("shop", [restarted], NOW) == {
        "web": ProbeStanding(waiting="probe http://:80/ has not passed yet")}
    again = evaluate(HealthInputs(deployment(web={}), [restarted], DesiredState.RUNNING, NOW,
                                  probes=book.standing("shop", [restarted], NOW)))
    assert again.verdict is Verdict.STARTING
    assert again.service("web") is not None
    record.record(run_of(restarted), restarted.started_at, _result())
    assert book.standing("shop", [restarted], NOW) == {}


def test_a_stopped_service_is_judged_by_its_state_not_its_last_probe() -> None:
    book = ProbeBook(grace=5)
    book.sync([_spec(failures=1)])
    record = book.get(("shop", "web", "http://:80/"))
    assert record is not None
    web = container("web")
    record.record(run_of(web), web.started_at, _result(ProbeFailure.TIMEOUT, "timed out"))
    stopped = replace(web, status="exited", exit_code=0)
    assert book.standing("shop", [stopped], NOW) == {}
    health = evaluate(HealthInputs(deployment(web={}), [stopped], DesiredState.STOPPED, NOW,
                                   probes=book.standing("shop", [stopped], NOW)))
    assert health.verdict is Verdict.STOPPED
    assert health.services[0].status is ServiceStatus.STOPPED


def test_certificate_severity_by_days_left() -> None:
    assert [cert_severity(d, CONFIG) for d in (None, 30, 14, 5, 3, 0.5, -2)] == [
        None, None, Severity.WARNING, Severity.WARNING, Severity.CRITICAL, Severity.CRITICAL,
        Severity.CRITICAL]


def test_every_probe_failing_at_once_is_the_hosts_problem_only_across_deployments() -> None:
    book = ProbeBook(grace=5)
    specs = [_spec("a", deployment="one"), _spec("b", deployment="one"),
             _spec("c", deployment="two")]
    book.sync(specs)
    records = book.records()

    def fail_all(failure: ProbeFailure) -> None:
        for record in records:
            record.record("run", NOW, _result(failure, "timed out after 5s"))

    fail_all(ProbeFailure.TIMEOUT)
    assert host_failure(book, 3) == "all 3 probes of 2 deployments fail at once: " \
        "timed out after 5s"
    assert book.standing("one", [], NOW) == {}
    fail_all(ProbeFailure.STATUS)  # every site answering 500 is the sites' problem
    assert host_failure(book, 3) is None
    fail_all(ProbeFailure.TIMEOUT)
    records[0].record("run", NOW, _result())
    assert host_failure(book, 3) is None
    book.sync(specs[:2])  # one deployment alone is never the host
    fail_all(ProbeFailure.TIMEOUT)
    assert host_failure(book, 2) is None


def test_a_namespace_that_cannot_be_entered_is_never_held_against_the_service() -> None:
    book = ProbeBook(grace=5)
    book.sync([_spec(failures=1)])
    record = book.get(("shop", "web", "http://:80/"))
    assert record is not None
    web = container("web")
    record.record(run_of(web), web.started_at, _result(
        ProbeFailure.NAMESPACE, "cannot enter /proc/1/ns/net: Operation not permitted"))
    assert record.failures == 0 and record.last is not None and not record.last.ok
    assert book.standing("shop", [web], NOW) == {}
