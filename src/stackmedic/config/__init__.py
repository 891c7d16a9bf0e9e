"""Agent configuration: one YAML file plus ``STACKMEDIC_*`` environment overrides."""

from stackmedic.config.loader import ConfigError, load_settings
from stackmedic.config.model import Settings

__all__ = ["ConfigError", "Settings", "load_settings"]
