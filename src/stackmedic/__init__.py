"""stackmedic: keeps Docker Compose deployments alive and tells people what happens to them."""

__version__ = "0.1.0"
