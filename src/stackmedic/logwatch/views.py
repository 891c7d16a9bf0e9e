"""What the API, the dashboard and the CLI show of a deployment's logs."""

from __future__ import annotations

import time
from typing import Any

from stackmedic.logwatch.notices import printable
from stackmedic.logwatch.watch import LogWatch


def deployment_logs(watch: LogWatch, name: str, limit: int = 10) -> dict[str, Any]:
    """Top fingerprints (most lines first), the fingerprints firing, and each container's
    follow state."""
    firing = {b.fingerprint for b in watch.bursts.firing(name)}
    top = []
    for item in watch.tally.top(name, limit=limit):
        row = item.as_dict()
        row["first_line"] = printable(item.first_line)
        row["firing"] = item.fingerprint in firing
        row["last_seen_ago"] = max(0.0, round(time.time() - item.last_seen, 1))
        top.append(row)
    return {"deployment": name, "enabled": watch.config.enabled, "top": top,
            "firing": sorted(firing), "containers": watch.followers(name)}
