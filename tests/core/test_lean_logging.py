"""The agent's process loads structlog without rich, pygments or greenlet, and still logs
exceptions with their traceback; those packages stay importable for what wants them."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from stackmedic.logs import configure_logging, lean_structlog
lean_structlog()
import stackmedic.agent, stackmedic.api.server
loaded = sorted(m for m in ("rich", "pygments", "greenlet") if m in sys.modules)
configure_logging()
import structlog
try:
    {}["missing"]
except KeyError:
    structlog.get_logger("probe").exception("lookup failed", key="missing")
import rich
print(json.dumps({"loaded": loaded, "rich_later": rich.__name__}))
"""


def test_agent_modules_load_without_structlog_extras() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          timeout=120, check=True)
    found = json.loads(done.stdout)
    assert found == {"loaded": [], "rich_later": "rich"}
    assert "lookup failed" in done.stderr
    assert "Traceback (most recent call last)" in done.stderr
    assert "KeyError: 'missing'" in done.stderr


def test_run_loads_structlog_lean_before_the_agent() -> None:
    # `stackmedic run` with a missing file stops once the agent's modules are loaded
    probe = (
        "import sys\n"
        "sys.argv = ['stackmedic', 'run', '--config', '/nonexistent/stackmedic.yaml']\n"
        "from stackmedic.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('rich', 'pygments', 'structlog') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "['structlog']", done.stdout
