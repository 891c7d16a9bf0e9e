"""The marks of the fleet tests that run real Prometheus and Alertmanager processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.monitoring import ALERTMANAGER, PROMETHEUS

needs_prometheus_stack = pytest.mark.skipif(
    not (Path(PROMETHEUS).exists() and Path(ALERTMANAGER).exists()),
    reason="needs Debian's prometheus and prometheus-alertmanager (scripts/ensure-system-deps)",
)
STACK_MARKS = [needs_prometheus_stack, pytest.mark.slow]
