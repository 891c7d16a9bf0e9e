"""The test kit works against the real Docker Engine."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from support.compose import run_docker
from support.deployments import DeploymentFactory, prepare_services, service
from support.dockerd import EventRecorder, PrivateDockerd
from support.images import busybox_image_name, ensure_busybox_image
from support.wait import assert_holds, async_assert_holds, async_wait_until, wait_until

docker = pytest.mark.docker
slow = pytest.mark.slow


def _http_status(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        return conn.recv(200).split(b"\r\n", 1)[0].decode()


def _container_started_at(container_id: str) -> str:
    return run_docker("inspect", "--format", "{{.State.StartedAt}}", container_id).stdout.strip()


# --- pure helpers -------------------------------------------------------------------------


def test_wait_until_returns_the_truthy_value() -> None:
    seen: list[int] = []

    def grows() -> list[int]:
        seen.append(1)
        return seen if len(seen) >= 3 else []

    assert wait_until(grows, timeout=5, interval=0.001) == [1, 1, 1]


def test_wait_until_reports_message_and_last_value() -> None:
    with pytest.raises(AssertionError, match=r"service up .*last value: 0"):
        wait_until(lambda: 0, timeout=0.05, interval=0.01, message="service up")

    def missing() -> int:
        raise KeyError("x")

    with pytest.raises(AssertionError, match=r"last value: <raised KeyError"):
        wait_until(missing, timeout=0.05, interval=0.01, ignore=(KeyError,))


async def test_async_wait_until_accepts_sync_and_async_predicates() -> None:
    calls = 0

    async def ready() -> bool:
        nonlocal calls
        calls += 1
        return calls >= 2

    assert await async_wait_until(ready, timeout=5, interval=0.001) is True
    assert await async_wait_until(lambda: "ok", timeout=1) == "ok"
    with pytest.raises(AssertionError, match="never"):
        await async_wait_until(lambda: None, timeout=0.05, message="never")
    await async_assert_holds(lambda: True, duration=0.05)


def test_assert_holds_fails_when_the_condition_breaks() -> None:
    values = iter([True, True, False])
    with pytest.raises(AssertionError, match="stays up stopped holding"):
        assert_holds(lambda: next(values), duration=5, interval=0.001, message="stays up")


def test_prepare_services_applies_test_defaults() -> None:
    out = prepare_services(
        {
            "web": {"command": "echo hi", "ports": [80, "8080:80", {"target": 81}]},
            "own": {"image": "x", "init": False},
        },
        image="img:1",
    )
    assert out["web"] == {
        "command": ["echo hi"],
        "ports": ["127.0.0.1::80", "127.0.0.1:8080:80", {"target": 81, "host_ip": "127.0.0.1"}],
        "image": "img:1",
        "init": True,
    }
    assert out["own"] == {"image": "x", "init": False}
    with pytest.raises(ValueError, match=r"127\.0\.0\.1 only"):
        prepare_services({"web": {"ports": ["0.0.0.0:80:80"]}}, image="img:1")


# --- main daemon --------------------------------------------------------------------------


@docker
def test_busybox_image_runs_echo_and_exit_codes(busybox_image: str) -> None:
    assert busybox_image == busybox_image_name()
    assert ensure_busybox_image() == busybox_image  # cached: a second call is a no-op
    hi = run_docker("run", "--rm", "--network", "none", busybox_image, "echo hi")
    assert (hi.returncode, hi.stdout) == (0, "hi\n")
    seven = run_docker("run", "--rm", "--network", "none", busybox_image, "exit 7", check=False)
    assert seven.returncode == 7


@docker
def test_deployment_runs_publishes_on_loopback_and_is_cleaned_up(
    deployments: DeploymentFactory,
) -> None:
    dep = deployments.make(
        "web",
        {
            "web": service("httpd -f -p 8080 -h /", ports=[8080], volumes=["data:/data"]),
            "worker": service("sleep 3600", networks=["back"]),
        },
        top_level={"volumes": {"data": {}}, "networks": {"back": {}}},
    )
    assert dep.path.name == dep.name and dep.name.startswith(deployments.prefix + "-")
    dep.up()
    assert dep.states() == {"web": "running", "worker": "running"}
    port = dep.port("web", 8080)
    bindings = run_docker(
        "inspect", "--format", "{{json .HostConfig.PortBindings}}", *dep.container_ids()
    ).stdout
    assert '"HostIp":"127.0.0.1"' in bindings
    assert wait_until(lambda: _http_status(port), timeout=10, ignore=(OSError,)).startswith(
        "HTTP/1.1 404"
    )

    dep.stop("worker")
    assert dep.states() == {"web": "running", "worker": "exited"}

    left = deployments.leftovers()
    assert len(left["containers"]) == 2 and left["networks"] and left["volumes"]
    deployments.cleanup()
    assert deployments.leftovers() == {"containers": {}, "networks": {}, "volumes": {}}
    assert dep.ps() == []


@docker
def test_deployment_with_build_context(deployments: DeploymentFactory) -> None:
    dep = deployments.make(
        "built",
        {"app": {"build": ".", "command": ["cat /built.txt"]}},
        files={"Dockerfile": f"FROM {deployments.image}\nRUN echo built-ok > /built.txt\n"},
    )
    dep.compose("up", "--exit-code-from", "app", timeout=180)
    assert "built-ok" in dep.compose("logs", "--no-color", "app").stdout
    image = f"{dep.name}-app"
    assert run_docker("image", "inspect", image, check=False).returncode == 0
    deployments.cleanup()
    assert run_docker("image", "inspect", image, check=False).returncode != 0


# --- private daemon -----------------------------------------------------------------------


def _per_container_actions(
    events: list[dict[str, Any]], names: set[str], since_ns: int
) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {name: [] for name in names}
    for event in events:
        attrs = event.get("Actor", {}).get("Attributes", {})
        name = attrs.get("name")
        if event.get("Type") == "container" and name in seen and event["timeNano"] >= since_ns:
            action = str(event.get("Action"))
            signal = attrs.get("signal")
            seen[name].append(f"{action}({signal})" if signal else action)
    return seen


@docker
@slow
def test_private_dockerd_runs_compose_and_shuts_down_in_order(
    private_dockerd: PrivateDockerd,
    deployments: DeploymentFactory,
    tmp_path: Path,
) -> None:
    docker0_before = Path("/sys/class/net/docker0").exists()
    main_dep = deployments.make("bystander", {"idle": service("sleep 3600")})
    main_dep.up()
    (main_id,) = main_dep.container_ids()
    main_started = _container_started_at(main_id)

    pd = private_dockerd
    private = DeploymentFactory(tmp_path / "private", deployments.image, docker_host=pd.host)
    stack = private.make(
        "stack",
        {
            # sh as PID 1 ignores SIGTERM: the daemon has to escalate to SIGKILL.
            "a": service("sleep 3600", init=False, stop_grace_period="1s", networks=["inner"]),
            "b": service("httpd -f -p 8080 -h /", networks=["inner"]),
        },
        top_level={"networks": {"inner": {}}},
    )
    stack.up()
    assert stack.states() == {"a": "running", "b": "running"}
    reply = stack.compose(
        "exec", "-T", "a", "sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 b 8080"
    ).stdout
    assert reply.startswith("HTTP/1.1 404"), reply  # name resolution + traffic on the network
    names = {row["Name"] for row in stack.ps()}

    with EventRecorder(pd.host, since=time.time() - 1) as recorder:
        stop_ns = time.time_ns()
        pd.stop()
        assert recorder.ended.wait(30), "event stream did not end with the daemon"
    seen = _per_container_actions(recorder.snapshot(), names, stop_ns)
    print("orderly shutdown events:", seen)
    a_name, b_name = sorted(names)
    assert seen == {
        a_name: ["kill(15)", "kill(9)", "die", "stop"],  # ignores SIGTERM: escalated after 1s
        b_name: ["kill(15)", "die", "stop"],
    }
    assert not pd.ping()

    pd.start()
    assert stack.states() == {"a": "exited", "b": "exited"}
    stack.up()
    assert stack.states() == {"a": "running", "b": "running"}

    assert main_dep.states() == {"idle": "running"}
    assert _container_started_at(main_id) == main_started
    assert Path("/sys/class/net/docker0").exists() == docker0_before


@docker
@slow
@pytest.mark.parametrize("graceful", [True, False], ids=["restart-cleanup", "forced-cleanup"])
def test_private_dockerd_teardown_after_crash_leaves_nothing(
    busybox_image: str, graceful: bool
) -> None:
    pd = PrivateDockerd()
    try:
        pd.start()
        pd.load_image(busybox_image)
        pd.docker("network", "create", "smt-crash-net")
        cid = pd.docker(
            "run", "-d", "--init", "--network", "smt-crash-net", busybox_image, "sleep 3600"
        ).stdout.strip()
        pd.kill()
        assert not pd.ping()
        assert pd.leftover_pids(), "container shims outlive a crashed daemon"
    finally:
        pd.teardown(graceful=graceful)
    assert not pd.dir.exists()
    assert pd.mounts() == []
    assert pd.leftover_pids() == []
    assert not list(Path("/sys/fs/cgroup").glob(f"*/docker/{cid}"))


@docker
@slow
def test_orphaned_private_dockerd_is_swept() -> None:
    pd = PrivateDockerd()
    try:
        pd.start()
        (pd.dir / "owner").write_text("999999999:1")  # an owner that no longer exists
        assert pd.dir in PrivateDockerd.sweep_orphans()
        assert not pd.dir.exists()
        assert pd.leftover_pids() == []
    finally:
        pd.teardown()
