"""The ``stackmedic`` command line."""
