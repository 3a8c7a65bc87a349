"""Benchmarks of the bridgedapp operator: `python -m bench` (or `make bench`) writes docs/bench.*.

Every figure is a ratio to a baseline measured in the same run, because the machines this runs on are
shared and noisy: an idle reconcile pass against plain GETs, the operator's memory with BridgedApps against
the same operator with none, time-to-Ready against a plain Deployment rollout, and offline render throughput
against a YAML round trip of the same documents, and a thousand apps created at once against a raw-API floor
doing only the writes an ideal operator must (bench/floor.py). Nothing here asserts on speed.
"""

BENCHMARKS = ("render", "memory", "idle", "ready", "scale")
