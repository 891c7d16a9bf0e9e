"""Tests of host and container resource monitoring."""
