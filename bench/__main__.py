"""`python -m bench [--quick] [--only NAME ...]`: run the benchmarks, write docs/bench.{json,md} and plots.

The cluster benchmarks share one local control plane, started here and deleted on every exit path. A
benchmark that fails is reported as failed (its error in the JSON) and the others still run; the exit code
is then 1. Results of benchmarks not run this time are kept from the previous docs/bench.json, each with
the date and command of its own run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import BENCHMARKS
from bench.env import REPO, Env, open_env, say

CLUSTER_BENCHMARKS = ("memory", "idle", "ready")  # in this order: memory needs a cluster with no apps yet


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer apps and repetitions (under ~2 minutes)")
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the operator logs (always kept on failure)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="where bench.json/.md/png go")
    parser.add_argument(
        "--scale-size",
        action="append",
        type=int,
        metavar="N",
        help="the scale benchmark's app counts (repeatable; default 100, 300, 1000; with --quick 20)",
    )
    parser.add_argument(
        "--scale-settle-at",
        type=int,
        metavar="N",
        help="measure idle and restart after this size (default: the largest); larger sizes may be capped",
    )
    parser.add_argument(
        "--scale-cap",
        type=float,
        metavar="SECONDS",
        help="end each subject's phase of the sizes above --scale-settle-at after this long, partial",
    )
    return parser


def _command(argv: Sequence[str]) -> str:
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(REPO)
    return shlex.join([str(python), "-m", "bench", *argv])


def _timed(name: str, quick: bool, command: str, body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one benchmark; record when, how, the load around it, and its error if it failed."""
    started = time.monotonic()
    record: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "quick": quick,
        "load_before": list(os.getloadavg()),
    }
    say(f"--- {name} ---")
    try:
        record.update(body())
    except Exception as exc:  # reported in the results; the other benchmarks still run
        traceback.print_exc()
        record["error"] = f"{type(exc).__name__}: {exc}"
    record["load_after"] = list(os.getloadavg())
    record["seconds"] = time.monotonic() - started
    say(f"{name}: {'FAILED' if 'error' in record else 'done'} in {record['seconds']:.1f}s")
    return record


def _scale(args: argparse.Namespace) -> dict[str, Any]:
    """The scale benchmark, on a control plane of its own (30 nodes); its logs kept only on failure."""
    from bench import scale

    sizes = tuple(sorted(args.scale_size or (scale.QUICK_SIZES if args.quick else scale.SIZES)))
    idle = scale.QUICK_IDLE_SECONDS if args.quick else scale.IDLE_SECONDS
    logs = Path(tempfile.mkdtemp(prefix="bridgedapp-bench-scale-logs-"))
    try:
        result = scale.run(
            sizes=sizes,
            idle_seconds=idle,
            logs=logs,
            cap_seconds=args.scale_cap,
            settle_at=args.scale_settle_at,
        )
    except BaseException:
        say(f"scale: logs kept in {logs}")
        raise
    if args.keep_logs:
        say(f"scale: logs kept in {logs}")
    else:
        shutil.rmtree(logs, ignore_errors=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(args_list)
    selected = [b for b in BENCHMARKS if not args.only or b in args.only]
    command = _command(args_list)
    run_info: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "quick": args.quick,
        "benchmarks": selected,
        "load_start": list(os.getloadavg()),
    }
    started = time.monotonic()
    results: dict[str, dict[str, Any]] = {}
    env_info: dict[str, Any] = {}

    if "render" in selected:
        from bench import render

        results["render"] = _timed("render", args.quick, command, lambda: render.run(args.quick))

    cluster_selected = [b for b in CLUSTER_BENCHMARKS if b in selected]
    if cluster_selected:
        from bench import idle, memory, ready

        runners: dict[str, Callable[[Env, bool], dict[str, Any]]] = {
            "memory": memory.run,
            "idle": idle.run,
            "ready": ready.run,
        }
        logs = Path(tempfile.mkdtemp(prefix="bridgedapp-bench-logs-"))
        keep_logs = args.keep_logs
        try:
            with contextlib.ExitStack() as stack:
                try:
                    env = open_env(stack, logs)
                except Exception as exc:
                    traceback.print_exc()
                    for name in cluster_selected:
                        results[name] = {
                            "date": run_info["date"],
                            "command": command,
                            "quick": args.quick,
                            "error": f"setting up the cluster failed: {type(exc).__name__}: {exc}",
                        }
                else:
                    env_info = {
                        "kubernetes_server": env.server_version(),
                        "strimzi": env.strimzi.version,
                        "strimzi_bundle": str(env.manifest),
                        "setup_seconds": env.setup_seconds,
                    }
                    for name in cluster_selected:
                        results[name] = _timed(
                            name, args.quick, command, lambda name=name: runners[name](env, args.quick)
                        )
                say("tearing down the cluster")
            keep_logs = keep_logs or any("error" in results[name] for name in cluster_selected)
        finally:  # also on Ctrl-C / SIGTERM: the logs go unless asked for
            if keep_logs:
                say(f"operator logs kept in {logs}")
            else:
                shutil.rmtree(logs, ignore_errors=True)
    if "scale" in selected:
        results["scale"] = _timed("scale", args.quick, command, lambda: _scale(args))
    run_info["load_end"] = list(os.getloadavg())
    run_info["seconds"] = time.monotonic() - started

    from bench import report

    report.write(args.out, run_info, env_info, results)
    failed = [name for name, r in results.items() if "error" in r]
    say(f"wrote {args.out / 'bench.json'}, bench.md and plots in {run_info['seconds']:.0f}s")
    if failed:
        say(f"FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
