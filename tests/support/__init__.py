"""Test kit shared by every Docker test: offline images, Compose deployments, a private dockerd."""
