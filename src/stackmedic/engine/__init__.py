"""Access to the Docker Engine (through aiodocker) and to Docker Compose v2 (a subprocess)."""
