"""Kopf's per-event "Handler ... succeeded." lines of the event handlers are dropped; nothing else is."""

from __future__ import annotations

import logging

from bridgedapp import handlers, metrics


def record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("kopf.objects", level, __file__, 1, message, None, None)


def test_only_the_event_handlers_success_lines_go() -> None:
    quiet = handlers.QuietEventHandlers([*handlers.EVENT_HANDLERS, metrics.app_seen])
    assert not quiet.filter(record("Handler 'deployment_changed' succeeded."))
    assert not quiet.filter(record("Handler 'app_seen' succeeded."))
    assert quiet.filter(record("Handler 'cleanup' succeeded."))  # a deletion is worth its line
    assert quiet.filter(record("Handler 'deployment_changed' failed with an exception.", logging.ERROR))
    assert quiet.filter(record("Deletion is processed: 1 succeeded; 0 failed."))
