"""Turns what users do on the engine directly into recorded intent."""

from stackmedic.intent.tracker import IntentTracker

__all__ = ["IntentTracker"]
