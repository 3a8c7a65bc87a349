"""A handler that only waits is news, not an error.

Kopf's one way to run a handler again later is `kopf.TemporaryError`, and Kopf logs every one at ERROR and
posts it as an `Error` event (nolar/kopf#981). While a pinned Strimzi release is being installed every
BridgedApp waits a few seconds at a time; an admin reading the logs or `kubectl get events` should not see
errors for that. `Waiting` marks those retries, and `WaitingIsNotAnError` (a filter on Kopf's per-object
logger, which runs before Kopf's event poster) lowers exactly them to INFO. Retries after real failures
(API errors, a failed install) keep Kopf's ERROR.
"""

from __future__ import annotations

import logging

import kopf

PREFIX = "Waiting: "
KOPF_OBJECT_LOGGER = "kopf.objects"


class Waiting(kopf.TemporaryError):
    """Run the handler again after `delay` seconds because something is in progress, not because it failed."""

    def __init__(self, message: str, delay: float) -> None:
        super().__init__(f"{PREFIX}{message}", delay=delay)


class WaitingIsNotAnError(logging.Filter):
    """Lowers Kopf's "Handler ... failed temporarily: Waiting: ..." records from ERROR to INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and f"failed temporarily: {PREFIX}" in record.getMessage():
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


def install() -> None:
    """Attach the filter once (start-up may run more than once in one process, e.g. in tests)."""
    logger = logging.getLogger(KOPF_OBJECT_LOGGER)
    if not any(isinstance(f, WaitingIsNotAnError) for f in logger.filters):
        logger.addFilter(WaitingIsNotAnError())
