"""Restart detection: a daemon restart needs evidence, never a reconnect alone."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import psutil

from stackmedic.observe.boot import RestartKind, classify, daemon_identity, socket_identity


def test_identity_of_a_unix_socket_names_the_serving_process(tmp_path: Path) -> None:
    path = tmp_path / "engine.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        identity = daemon_identity(f"unix://{path}")
    assert identity == f"{os.getpid()}:{psutil.Process().create_time():.2f}"
    assert daemon_identity("tcp://127.0.0.1:2375") is None
    assert daemon_identity(f"unix://{tmp_path / 'absent.sock'}") is None


def test_a_recreated_socket_file_has_a_new_identity(tmp_path: Path) -> None:
    path = tmp_path / "engine.sock"
    identities = []
    for _ in range(2):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
            server.bind(str(path))
            identities.append(socket_identity(str(path)))
        path.unlink()
    assert identities[0] is not None and identities[0].startswith("socket:")
    assert identities[0] != identities[1]


def test_classify_needs_a_changed_identity_seen_the_same_way() -> None:
    same = dict(stored_boot="b", current_boot="b")
    assert classify(**same, stored_daemon="1:5.0", current_daemon="1:5.0") is RestartKind.AGENT
    assert classify(**same, stored_daemon="1:5.0", current_daemon="9:7.0") is RestartKind.DAEMON
    assert classify(**same, stored_daemon="1:5.0", current_daemon=None) is RestartKind.AGENT
    # A process identity and a socket-file identity are not comparable: no evidence.
    assert classify(**same, stored_daemon="1:5.0",
                    current_daemon="socket:7:9") is RestartKind.AGENT
    assert classify(stored_boot="a", current_boot="b", stored_daemon="1:5.0",
                    current_daemon="1:5.0") is RestartKind.HOST
