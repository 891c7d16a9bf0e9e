"""Allow ``python -m stackmedic``."""

from stackmedic.cli.main import main

main()
