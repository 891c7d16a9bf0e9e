"""Services that behave like real ones, in the offline busybox image.

Each function returns a service mapping for ``DeploymentFactory.make``. The shell runs
as PID 1 (``init: false``) so that its own signal handling decides the exit code, as a
real server's does; a short ``stop_grace_period`` keeps stops that end in SIGKILL quick.
"""

from __future__ import annotations

from typing import Any

# Wait in the background so a trapped signal is handled at once, not after a sleep ends.
_IDLE = "while :; do sleep 1 & wait $!; done"
GRACE = "2s"
# For checks that one failure makes unhealthy: on a loaded host Docker's exec of the check
# alone took more than 2 s, and a service nobody touched turned unhealthy (CI).
CHECK_TIMEOUT = "10s"


def _spec(command: str, **extra: Any) -> dict[str, Any]:
    return {"command": [command], "init": False, "stop_grace_period": GRACE, **extra}


def graceful(**extra: Any) -> dict[str, Any]:
    """Exits 0 on SIGTERM, as nginx, postgres and most Go and Node servers do."""
    return _spec(f"trap 'exit 0' TERM; echo serving; {_IDLE}", **extra)


def ignores_term(**extra: Any) -> dict[str, Any]:
    """Ignores SIGTERM: a stop ends with SIGKILL after the grace period (exit 137)."""
    return _spec(f"trap '' TERM; echo serving; {_IDLE}", **extra)


def exits_143(**extra: Any) -> dict[str, Any]:
    """Dies of SIGTERM's default action, as a plain process does (exit 143)."""
    return _spec(f"trap 'exit 143' TERM; echo serving; {_IDLE}", **extra)


def migration(**extra: Any) -> dict[str, Any]:
    """A one-shot job: does its work and exits 0 by itself."""
    return _spec("echo migrated; exit 0", **extra)


def after_migration(job: str = "migrate", **extra: Any) -> dict[str, Any]:
    """A server that starts only once ``job`` completed successfully."""
    return graceful(depends_on={job: {"condition": "service_completed_successfully"}}, **extra)


def slow_starter(delay: float = 3, **extra: Any) -> dict[str, Any]:
    """Ready ``delay`` seconds after start; its healthcheck has a ``start_period``."""
    return _spec(
        f"rm -f /tmp/ready; trap 'exit 0' TERM; (sleep {delay}; touch /tmp/ready) & {_IDLE}",
        healthcheck={"test": ["CMD-SHELL", "test -f /tmp/ready"], "interval": "1s",
                     "timeout": "2s", "retries": 3, "start_period": "15s"},
        **extra,
    )


def sidecar(of: str = "main", **extra: Any) -> dict[str, Any]:
    """Shares ``of``'s network namespace (``network_mode: service:X``)."""
    return graceful(network_mode=f"service:{of}", **extra)


def crash_looper(after: float = 3, code: int = 3, **extra: Any) -> dict[str, Any]:
    """Logs a fatal error and exits ``code`` ``after`` seconds after each start."""
    return _spec(f"echo 'fatal config error'; sleep {after}; exit {code}", **extra)


def flaky_starter(crashes: int = 3, **extra: Any) -> dict[str, Any]:
    """Crashes (exit 3) on its first ``crashes`` starts, then serves; needs a restart policy.

    The count lives in the container's own filesystem, which a restart keeps.
    """
    return _spec(
        # $$ is Compose's escape for a literal $
        "n=$$(cat /tmp/starts 2>/dev/null || echo 0); n=$$((n+1)); echo $$n > /tmp/starts; "
        f"if [ $$n -le {crashes} ]; then echo 'not ready yet'; exit 3; fi; "
        f"trap 'exit 0' TERM; echo serving; {_IDLE}",
        **extra,
    )


def memory_hog(limit: str = "24m", **extra: Any) -> dict[str, Any]:
    """Grows without bound inside a small memory limit: the kernel's OOM killer ends it."""
    return _spec("echo starting; tail /dev/zero", mem_limit=limit, memswap_limit=limit,
                 **extra)


def checked(interval: str = "1s", **extra: Any) -> dict[str, Any]:
    """Healthy while /tmp/ok exists (made at start): ``rm /tmp/ok`` makes it unhealthy."""
    return _spec(
        f"touch /tmp/ok; trap 'exit 0' TERM; echo serving; {_IDLE}",
        healthcheck={"test": ["CMD-SHELL", "test -f /tmp/ok"], "interval": interval,
                     "timeout": CHECK_TIMEOUT, "retries": 1},
        **extra,
    )


def flapping(period: float = 6, **extra: Any) -> dict[str, Any]:
    """Its healthcheck passes for ``period`` seconds, then fails for ``period``, over and over.

    ``touch /tmp/steady`` in the container makes it pass from then on; ``touch /tmp/sick``
    makes it fail from then on.
    """
    toggle = (f"while :; do [ -e /tmp/sick ] || touch /tmp/ok; sleep {period}; "
              f"[ -e /tmp/steady ] || rm -f /tmp/ok; sleep {period}; done")
    return _spec(
        f"trap 'exit 0' TERM; ({toggle}) & echo serving; {_IDLE}",
        healthcheck={"test": ["CMD-SHELL", "test -f /tmp/ok && ! test -e /tmp/sick"],
                     "interval": "1s", "timeout": CHECK_TIMEOUT, "retries": 1},
        **extra,
    )
