"""Logging setup for the command line. Library modules only log; this configures them."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler


def setup(console: Console, verbosity: int) -> None:
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    handler = RichHandler(console=console, show_time=False, show_path=verbosity > 0, markup=False)
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler], force=True)
