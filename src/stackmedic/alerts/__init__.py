"""Turns what the agent observes (health, recovery, spikes, its own problems) into notifications."""

from stackmedic.alerts.bridge import NotificationBridge

__all__ = ["NotificationBridge"]
