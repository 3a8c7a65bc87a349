"""Summaries of repeated measurements: median and spread, never a single number, never an assertion."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median with min/max and the inter-quartile range; the raw values stay beside it in the JSON."""
    data = sorted(float(v) for v in values)
    if not data:
        return {"n": 0}
    if len(data) >= 2:
        q1, _, q3 = statistics.quantiles(data, n=4, method="inclusive")
    else:
        q1 = q3 = data[0]
    return {
        "n": len(data),
        "median": statistics.median(data),
        "min": data[0],
        "max": data[-1],
        "q1": q1,
        "q3": q3,
        "mean": statistics.fmean(data),
    }


def ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float | None:
    """Ratio of medians: the headline of every benchmark (None when the baseline is missing or zero)."""
    if not numerator or not denominator:
        return None
    base = statistics.median(denominator)
    return statistics.median(numerator) / base if base else None


def paired_ratios(numerator: Sequence[float], denominator: Sequence[float]) -> list[float]:
    """Ratios of samples taken side by side (same moment, same noise), for the ratio's own spread."""
    return [n / d for n, d in zip(numerator, denominator, strict=True) if d]


def fmt(value: float | None, digits: int = 2) -> str:
    """A number for the Markdown table; '-' for a missing one."""
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"
