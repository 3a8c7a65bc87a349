"""Builders/render throughput: `bridgedapp.render.render` of the sample vs a YAML round trip of it.

`render` runs every pure builder the reconciler uses (Kafka, node pool, topics, user and ACLs, bridge
properties and logging, credentials Secret, the Deployment patch, applied locally) plus spec validation.
Baseline: `yaml.safe_load` + `json.dumps` of the same documents, a floor for touching the objects at all.
Batches of each alternate, so both see the same moments of a noisy machine. No cluster is needed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import yaml
from bridgedapp.render import render

from bench.env import SAMPLES, say
from bench.stats import paired_ratios, ratio, summary

TARGET_BATCH_SECONDS = 0.15


def _calibrate(op: Callable[[], object]) -> int:
    """How many calls make a batch of about TARGET_BATCH_SECONDS."""
    count = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(count):
            op()
        elapsed = time.perf_counter() - t0
        if elapsed >= TARGET_BATCH_SECONDS / 4:
            return max(1, int(count * TARGET_BATCH_SECONDS / elapsed))
        count *= 2


def _batch(op: Callable[[], object], count: int) -> float:
    """Seconds per call, over one batch."""
    t0 = time.perf_counter()
    for _ in range(count):
        op()
    return (time.perf_counter() - t0) / count


def run(quick: bool) -> dict[str, Any]:
    batches = 5 if quick else 15
    text = "---\n".join((SAMPLES / name).read_text() for name in ("bridgedapp.yaml", "deployment.yaml"))
    docs = [d for d in yaml.safe_load_all(text) if d]
    before = json.dumps(docs, sort_keys=True)
    objects = render(docs)
    if json.dumps(docs, sort_keys=True) != before:
        raise RuntimeError("render changed its input: the benchmark would measure different work each call")

    def do_render() -> object:
        return render(docs)

    def do_baseline() -> object:
        return json.dumps(list(yaml.safe_load_all(text)))

    def do_json_copy() -> object:  # a tighter floor: copy the parsed objects, no YAML scanner involved
        return json.loads(json.dumps(docs))

    n_render, n_base, n_json = _calibrate(do_render), _calibrate(do_baseline), _calibrate(do_json_copy)
    say(f"render: {batches} batches of {n_render} renders and {n_base} YAML round trips, alternating")
    render_s: list[float] = []
    base_s: list[float] = []
    json_s: list[float] = []
    for _ in range(batches):
        render_s.append(_batch(do_render, n_render))
        base_s.append(_batch(do_baseline, n_base))
        json_s.append(_batch(do_json_copy, n_json))
    render_rate = [1 / s for s in render_s]
    base_rate = [1 / s for s in base_s]
    return {
        "title": "bridgedapp render of the sample vs yaml.safe_load + json.dumps of it",
        "batches": batches,
        "calls_per_batch": {"render": n_render, "baseline": n_base, "json_copy": n_json},
        "input_documents": len(docs),
        "input_bytes": len(text.encode()),
        "objects_rendered": len(objects),
        "render_seconds_per_call": render_s,
        "baseline_seconds_per_call": base_s,
        "render_per_second": summary(render_rate),
        "baseline_per_second": summary(base_rate),
        # how many YAML round trips one render costs: >1 means render is slower than the floor
        "ratio": ratio(render_s, base_s),
        "paired_ratio": summary(paired_ratios(render_s, base_s)),
        "json_copy_seconds_per_call": json_s,
        "json_copy_per_second": summary([1 / s for s in json_s]),
        "ratio_to_json_copy": ratio(render_s, json_s),
        "yaml_libyaml_available": bool(yaml.__with_libyaml__),
    }
