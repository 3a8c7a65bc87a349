"""The scale benchmark's machinery, at N=3 through the code path `make bench` runs at N=1,000.

Nothing about speed is asserted. What is: both subjects converge (every app injected and Ready), the floor
makes exactly its six writes per app and nothing else (so the audit-log counting by User-Agent adds up),
every request counted lands in one breakdown, the idle window and the restart are measured, and the page's
table is written from the record's own numbers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import scale, scale_report
from bench.stats import fmt
from testbed import strimzi_bundle
from testbed.toolchain import Binaries

N = 3
FLOOR_WRITES = {
    "patch kafkatopics": 1.0,
    "patch kafkausers": 1.0,
    "patch secrets": 1.0,
    "patch configmaps": 1.0,
    "patch deployments": 1.0,
    "patch bridgedapps/status": 1.0,
}


def test_scale_benchmark_counts_add_up_and_both_subjects_converge(binaries: Binaries, tmp_path: Path) -> None:
    if strimzi_bundle.bundle_path(scale.STRIMZI_VERSION) is None:
        pytest.skip(strimzi_bundle.missing_reason(scale.STRIMZI_VERSION))
    result = scale.run(sizes=(N,), idle_seconds=3.0, logs=tmp_path, nodes=3, binaries=binaries)
    per = result["sizes"][str(N)]

    for subject in scale.SUBJECTS:
        r = per[subject]
        assert len(r["injected_latency_seconds"]) == N, subject
        assert 0 < r["all_injected_seconds"] <= r["all_ready_seconds"], subject
        assert r["cpu_seconds"] > 0 and r["peak_rss_mib"] > 0, subject
        breakdown = sum(r["by_request_per_app"].values()) * N
        assert breakdown == pytest.approx(r["requests"]), subject
        assert r["writes"] + r["event_writes"] <= r["requests"], subject

    floor = per["floor"]
    assert floor["by_request_per_app"] == FLOOR_WRITES
    assert (floor["requests"], floor["writes"], floor["event_writes"]) == (6 * N, 6 * N, 0)
    operator = per["operator"]
    assert operator["writes"] >= 6 * N  # at least what the floor must write
    assert operator["passes_per_app"] is not None and operator["passes_per_app"] >= 1
    assert per["ratio"]["requests_per_app"] == pytest.approx(operator["requests"] / floor["requests"])

    assert per["idle"]["floor"]["requests"] == 0 and per["idle"]["floor"]["writes"] == 0
    assert set(per["restart"]) == set(scale.SUBJECTS)
    assert per["restart"]["floor"]["writes"] == 0  # it recognises Ready apps from their status

    table = "\n".join(scale_report.rows(result))
    assert f"{fmt(operator['requests_per_app'], 1)} / {fmt(floor['requests_per_app'], 1)}" in table
    assert f"{fmt(operator['all_ready_seconds'], 1)} / {fmt(floor['all_ready_seconds'], 1)}" in table
