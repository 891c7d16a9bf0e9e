"""Deployment health: verdicts, crash loops, transitions, API and metrics."""
