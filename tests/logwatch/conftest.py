"""The log-watch tests of one module share one private dockerd."""

from support.shared_dockerd import private_dockerd, shared_dockerd

__all__ = ["private_dockerd", "shared_dockerd"]
