"""The behaviour matrix's rows share one private dockerd per module.

Starting a daemon costs seconds; the rows of one module run one after another on the same
daemon, each with deployments of its own (removed at its end) and an agent of its own.
A row that stops or restarts the daemon leaves it started again.
"""

from support.shared_dockerd import private_dockerd, shared_dockerd

__all__ = ["private_dockerd", "shared_dockerd"]
