"""Logging setup for the command line. Library modules only log; this configures them."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

from pipeline import redact


def setup(console: Console, verbosity: int) -> None:
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    handler = RichHandler(console=console, show_time=False, show_path=verbosity > 0, markup=False)
    # Whatever reaches the console is scrubbed of credentials and request signatures.
    handler.addFilter(redact.FILTER)
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler], force=True)
    # The AWS libraries narrate every request at DEBUG; only -vvv wants that.
    for name in redact.LIBRARIES:
        logging.getLogger(name).setLevel(logging.DEBUG if verbosity >= 3 else logging.WARNING)
    # -v and -vv are the pipeline's own detail; other libraries' DEBUG (Pillow listing its
    # plugins, fontTools its tables) only at -vvv
    own = logging.getLogger("pipeline")
    own.setLevel(logging.NOTSET)  # the root's level, unless:
    if 0 < verbosity < 3:
        logging.getLogger().setLevel(logging.INFO)
        own.setLevel(logging.DEBUG)


def setup_worker(level: int) -> None:
    """In a local pool's worker process: the pipeline's records at ``level`` (the parent's),
    to stderr, scrubbed like the parent's, so ``-vv`` shows FFmpeg commands run there too."""
    handler = RichHandler(
        console=Console(stderr=True), show_time=False, show_path=False, markup=False
    )
    handler.addFilter(redact.FILTER)
    own = logging.getLogger("pipeline")
    own.handlers[:] = [handler]
    own.setLevel(level)
    own.propagate = False
