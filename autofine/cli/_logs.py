"""Console output shared by the CLI commands."""

from __future__ import annotations

import logging


def show_autofine_logs() -> None:
    """Print autofine's own messages (which model and why, first-run downloads) as plain lines."""
    logger = logging.getLogger("autofine")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
