"""Service behaviours for the probe tests, in the offline busybox image.

The web servers are busybox ``httpd`` with one CGI script, listening on the container's
own loopback only: no port is published, and none could be reached from outside.
"""

from __future__ import annotations

from typing import Any

from support import zoo

BROKEN = "/tmp/broken"
PORT = 8080


def _cgi(script: str, port: int = PORT) -> str:
    body = script.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return ("mkdir -p /www/cgi-bin; "
            f'printf "#!/bin/sh\\n{body}\\n" > /www/cgi-bin/h; chmod +x /www/cgi-bin/h; '
            f"httpd -p 127.0.0.1:{port} -h /www; ")


def _labels(kind: str, target: str, timeout: str = "3s", **options: str) -> dict[str, str]:
    labels = {f"stackmedic.probe.{kind}": target, "stackmedic.probe.interval": "1s",
              "stackmedic.probe.timeout": timeout, "stackmedic.probe.failures": "2"}
    labels.update({f"stackmedic.probe.{k}": v for k, v in options.items()})
    return labels


def web(**extra: Any) -> dict[str, Any]:
    """Answers 200 ``ok`` until ``BROKEN`` exists, then 500; a (re)start clears it."""
    script = (f'if [ -f {BROKEN} ]; then echo "Status: 500 Broken"; echo; echo broken; '
              'else echo "Content-Type: text/plain"; echo; echo ok; fi')
    spec = zoo.graceful(labels=_labels("http", f"http://:{PORT}/cgi-bin/h", body="ok"),
                        **extra)
    spec["command"] = [f"rm -f {BROKEN}; {_cgi(script)}" + spec["command"][0]]
    return spec


def deadlocked(**extra: Any) -> dict[str, Any]:
    """The container runs, its server accepts connections and never answers."""
    spec = zoo.graceful(labels=_labels("http", f"http://:{PORT}/cgi-bin/h", "1s"), **extra)
    spec["command"] = [_cgi("sleep 3600") + spec["command"][0]]
    return spec


def tcp_server(port: int, probe_port: int | None = None, **extra: Any) -> dict[str, Any]:
    """Listens on ``port`` (container loopback); probed by TCP on ``probe_port``."""
    spec = zoo.graceful(labels=_labels("tcp", f":{probe_port or port}"), **extra)
    spec["command"] = [_cgi("echo", port) + spec["command"][0]]
    return spec


def plain(labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """A running service with no server; ``labels`` as given."""
    return zoo.graceful(labels=labels or {}, **extra)
