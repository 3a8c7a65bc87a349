"""Retries that only wait are logged (and posted as events) at INFO; retries after failures keep Kopf's ERROR."""

from __future__ import annotations

import logging

import kopf
import pytest
from bridgedapp.waiting import KOPF_OBJECT_LOGGER, PREFIX, Waiting, WaitingIsNotAnError, install


def kopf_record(message: str) -> logging.LogRecord:
    """A record as Kopf's handler runner writes it after a TemporaryError."""
    return logging.LogRecord(KOPF_OBJECT_LOGGER, logging.ERROR, __file__, 1, message, None, None)


def test_waiting_is_a_temporary_error_with_its_delay() -> None:
    err = Waiting("Strimzi 1.2.0 is being installed. Looking again in 5s.", delay=5)
    assert isinstance(err, kopf.TemporaryError) and err.delay == 5
    assert str(err).startswith(PREFIX)


@pytest.mark.parametrize(
    ("message", "level"),
    [
        (
            f"Handler 'reconcile' failed temporarily: {Waiting('Strimzi is being installed.', 5)}",
            logging.INFO,
        ),
        ("Handler 'reconcile' failed temporarily: API error, will retry: 503", logging.ERROR),
        (
            "Handler 'reconcile' failed temporarily: Strimzi install failed. Looking again in 5s.",
            logging.ERROR,
        ),
        (f"Handler 'reconcile' failed with an exception. Will retry. {PREFIX}", logging.ERROR),
    ],
)
def test_only_waits_are_lowered(message: str, level: int) -> None:
    record = kopf_record(message)
    assert WaitingIsNotAnError().filter(record) is True, "the record is kept, only its level changes"
    assert (record.levelno, record.levelname) == (level, logging.getLevelName(level))


def test_installed_once_on_kopfs_object_logger() -> None:
    install()
    install()
    logger = logging.getLogger(KOPF_OBJECT_LOGGER)
    assert sum(isinstance(f, WaitingIsNotAnError) for f in logger.filters) == 1
