"""The one poller behind tests' wait_until, the e2e tier's wait_for and the benchmarks' wait_until."""

from __future__ import annotations

from testbed.polling import poll


def test_returns_the_first_truthy_result() -> None:
    answers = iter([None, 0, "", {"ready": True}])
    assert poll(lambda: next(answers), timeout=5, interval=0) == {"ready": True}


def test_none_after_the_timeout_having_looked_at_least_once() -> None:
    calls = []
    assert poll(lambda: calls.append(1), timeout=-1, interval=0) is None
    assert calls == [1]  # a deadline already passed still gets one look
