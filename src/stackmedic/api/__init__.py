"""The HTTP API (FastAPI) served inside the agent's own event loop."""
