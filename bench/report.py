"""docs/bench.json (raw numbers and machine facts), docs/bench.md (table and reading) and docs/bench-*.png.

Benchmarks not run this time keep their previous results (each carries its own date and command), so
`--only NAME` refreshes one figure without erasing the others.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import BENCHMARKS, scale_report
from bench.env import REPO
from bench.stats import fmt

PACKAGES = ("kopf", "kubernetes", "pydantic", "PyYAML", "pykube-ng", "cryptography", "matplotlib")
PLOTS = {
    "idle": "bench-idle.png",
    "memory": "bench-memory.png",
    "ready": "bench-ready.png",
    "render": "bench-render.png",
    "scale": "bench-scale.png",
}
BASE_COLOR, MEASURED_COLOR, WRITE_COLOR = "#7f8c8d", "#1f77b4", "#d62728"


# ---- machine facts ---------------------------------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def _git(*args: str) -> str:
    proc = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False)
    return proc.stdout.strip()


def machine_info() -> dict[str, Any]:
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "mem_total_gib": _mem_total_gib(),
        "kernel": platform.release(),
        "versions": versions,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


# ---- JSON ----------------------------------------------------------------------------------------------------


def _previous(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write(
    out: Path, run: dict[str, Any], env_info: dict[str, Any], results: dict[str, dict[str, Any]]
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "bench.json"
    previous = _previous(path)
    machine = {**machine_info(), **env_info}
    for record in results.values():
        record["machine"] = machine
    merged = {**(previous.get("benchmarks") or {}), **results}
    benchmarks = {name: merged[name] for name in BENCHMARKS if name in merged}
    data = {"last_run": {**run, "machine": machine}, "benchmarks": benchmarks}
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    for name, record in results.items():
        if "error" not in record:
            try:
                _plot(out / PLOTS[name], name, record)
            except Exception as exc:  # a plot failing must not lose the numbers
                print(f"[bench] plot {PLOTS[name]} failed: {exc!r}", file=sys.stderr)
    (out / "bench.md").write_text(markdown(data))


# ---- Markdown --------------------------------------------------------------------------------------------------


def _spread(s: dict[str, Any], scale: float = 1.0, digits: int = 2) -> str:
    if not s or not s.get("n"):
        return "-"
    return (
        f"{fmt(s['median'] * scale, digits)} "
        f"(IQR {fmt(s['q1'] * scale, digits)}-{fmt(s['q3'] * scale, digits)}, "
        f"min-max {fmt(s['min'] * scale, digits)}-{fmt(s['max'] * scale, digits)})"
    )


def _rows(b: dict[str, Any]) -> list[str]:
    rows: list[str] = []
    r = b.get("render")
    if r and "error" not in r:
        rows.append(
            f"| render | `render()` of the sample, calls/s: {_spread(r['render_per_second'], digits=0)} "
            f"| `yaml.safe_load`+`json.dumps` of it, calls/s: {_spread(r['baseline_per_second'], digits=0)} "
            f"| **{fmt(r['ratio'])}x** the time (a JSON copy of the parsed objects: "
            f"{fmt(r['ratio_to_json_copy'])}x) |"
        )
    m = b.get("memory")
    if m and "error" not in m:
        base = _spread(m["levels"][0]["rss_mib"], digits=1)
        for level in [*m["levels"][1:], m["restart"]]:
            what = "a fresh process with" if level.get("fresh_process") else "RSS with"
            rows.append(
                f"| memory | {what} {level['apps']} apps, MiB: {_spread(level['rss_mib'], digits=1)} "
                f"| RSS with 0 apps, MiB: {base} "
                f"| **{fmt(level['ratio'])}x** (+{fmt(level['mib_over_baseline'], 1)} MiB, "
                f"{fmt(level['kib_per_app'], 0)} KiB/app) |"
            )
    i = b.get("idle")
    if i and "error" not in i:
        rows.append(
            f"| idle | idle pass, ms: {_spread(i['pass'], 1000)}; "
            f"{fmt(i['requests_per_pass'], 1)} requests ({fmt(i['reads_per_pass'], 1)} reads, "
            f"{fmt(i['writes_per_pass'], 1)} writes) "
            f"| one GET of the BridgedApp, ms: {_spread(i['get'], 1000)}; {fmt(i['requests_per_get'], 1)} request "
            f"| **{fmt(i['ratio'])}x** a GET |"
        )
    t = b.get("ready")
    if t and "error" not in t:
        rows.append(
            f"| ready | creation to Ready=True, s: {_spread(t['ready'])}; to SidecarInjected=True: "
            f"{fmt(t['injected']['median'])} "
            f"| Deployment creation to available, s: {_spread(t['rollout'])}; a rolling update of it: "
            f"{fmt(t['update_rollout']['median'])} "
            f"| **{fmt(t['ratio'])}x** a rollout |"
        )
    sc = b.get("scale")
    if sc and "error" not in sc:
        n = str(sc.get("settle_at") or max(sc["sizes"], key=int))
        last = sc["sizes"][n]
        rows.append(
            f"| scale | {int(n):,} apps at once, all SidecarInjected, s: "
            f"{fmt(last['operator']['all_injected_seconds'], 1)} "
            f"| the raw-API floor, same run: {fmt(last['floor']['all_injected_seconds'], 1)} "
            f"| **{fmt(last['ratio']['all_injected_seconds'])}x** the floor (every figure below) |"
        )
    for name in BENCHMARKS:
        if name in b and "error" in b[name]:
            rows.append(f"| {name} | failed: {b[name]['error']} | | |")
    return rows


def _reading(b: dict[str, Any]) -> list[str]:
    """A few sentences that read the numbers (written from them, so they stay true on every run)."""
    out: list[str] = []
    i = b.get("idle")
    if i and "error" not in i:
        writes = (
            "and no writes"
            if not i["writes_total"]
            else f"but {i['writes_total']} writes ({', '.join(i['write_requests'])}): an idle pass should make none"
        )
        top = sorted(i["breakdown_per_pass"].items(), key=lambda kv: -kv[1])
        out.append(
            f"An idle pass over a Ready app costs {fmt(i['ratio'])}x a single GET of that app "
            f"({fmt(i['pass']['median'] * 1000, 1)} ms vs {fmt(i['get']['median'] * 1000, 1)} ms) and makes "
            f"{fmt(i['requests_per_pass'], 1)} requests, all reads {writes}; so its cost is its sequential reads "
            f"({', '.join(f'{k} x{fmt(v, 1)}' for k, v in top)}), each a round trip to the API server."
        )
    m = b.get("memory")
    if m and "error" not in m and len(m["levels"]) > 1:
        last, restart = m["levels"][-1], m["restart"]
        out.append(
            f"The operator's resident memory grows from {fmt(m['baseline_mib'], 1)} MiB with no BridgedApps to "
            f"{fmt(last['rss_mib']['median'], 1)} MiB with {last['apps']} ({fmt(last['ratio'])}x, about "
            f"{fmt(last['kib_per_app'], 0)} KiB per app; a fresh process on the same apps settles at "
            f"{fmt(restart['rss_mib']['median'], 1)} MiB)"
            + (
                ", so the fixed cost of the runtime, Kopf and the clients dominates at these sizes."
                if last["ratio"] < 1.5
                else ": the per-app cost is no longer small next to the operator's fixed cost."
            )
        )
        c, r = m["requests_creating"][-1], m["requests_restart"]
        out.append(
            f"Creating an app cost {fmt(c['passes_per_app'], 1)} full passes and {fmt(c['requests_per_app'], 0)} "
            f"requests ({fmt(c['writes_per_app'], 0)} writes) per app, and a restart re-ran "
            f"{fmt(r['passes_per_app'], 1)} passes ({fmt(r['requests_per_app'], 0)} reads) per already-reconciled "
            "app: the first listing of BridgedApps asks for one, and the changes each watch's first listing reports share claimed "
            "passes (a change that finds a pass for its app not yet started rides on it; before, each ran its own: "
            "about 8 per app)."
        )
    sc = b.get("scale")
    if sc and "error" not in sc:
        out.append(scale_report.reading(sc))
    t = b.get("ready")
    if t and "error" not in t:
        out.append(
            f"From creation, an app joining an existing Kafka is Ready in {fmt(t['ready']['median'])} s, "
            f"{fmt(t['ratio'])}x the {fmt(t['rollout']['median'])} s the control plane takes to roll out the same "
            f"Deployment: the sidecar is injected after {fmt(t['injected']['median'])} s (the operator's passes and "
            "the Strimzi simulator issuing the user), and the remaining "
            f"{fmt(t['after_injection']['median'])} s compare with {fmt(t['update_rollout']['median'])} s for a "
            "plain rolling update of that Deployment, the floor for rolling out the injected template."
        )
    r = b.get("render")
    if r and "error" not in r:
        per_call_ms = 1000 / r["render_per_second"]["median"]
        versus = (
            f", about {fmt(per_call_ms / (i['get']['median'] * 1000))}x one GET in the idle benchmark"
            if i and "error" not in i
            else ""
        )
        out.append(
            f"Rendering the sample offline (every builder, validation included) takes {fmt(r['ratio'])}x the "
            f"time of parsing its YAML and dumping it as JSON ({fmt(r['render_per_second']['median'], 0)} vs "
            f"{fmt(r['baseline_per_second']['median'], 0)} calls/s"
            + ("; PyYAML's pure-Python loader is the slow part" if r["ratio"] < 1 else "")
            + f") and {fmt(r['ratio_to_json_copy'])}x a JSON copy of the parsed objects; "
            f"{fmt(per_call_ms)} ms per render{versus}, so the builders are not where a pass spends its time."
        )
    return out


def markdown(data: dict[str, Any]) -> str:
    run, b = data["last_run"], data["benchmarks"]
    machine = run["machine"]
    v = machine["versions"]
    lines = [
        "# Benchmarks",
        "",
        f"Last run: {run['date']}, `{run['command']}` ({'quick' if run['quick'] else 'full'}; "
        f"{run['seconds']:.0f} s; benchmarks: {', '.join(run['benchmarks'])}). "
        "Regenerate with `make bench` (full) or `.venv/bin/python -m bench --quick`.",
        "",
        f"Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['mem_total_gib']} GiB, Linux "
        f"{machine['kernel']}; load average {' / '.join(f'{x:.2f}' for x in run['load_start'])} at the start, "
        f"{' / '.join(f'{x:.2f}' for x in run['load_end'])} at the end. Python {v.get('python')}, kopf "
        f"{v.get('kopf')}, kubernetes client {v.get('kubernetes')}, pydantic {v.get('pydantic')}, PyYAML "
        f"{v.get('PyYAML')}; Kubernetes {machine.get('kubernetes_server', '-')} (local control plane, kwok "
        f"nodes), Strimzi {machine.get('strimzi', '-')} bundle with the Strimzi simulator (a test double); "
        f"commit {machine['git_commit']}{' + local changes' if machine['git_dirty'] else ''}.",
        "",
        "Each figure is a ratio to a baseline measured in the same run (these machines are shared and noisy), "
        "as median with inter-quartile range and min-max. Nothing here is asserted; the raw samples are in "
        "`bench.json`.",
        "",
        "| benchmark | measured | baseline (same run) | ratio |",
        "| --- | --- | --- | --- |",
        *_rows(b),
        "",
    ]
    older = [
        f"{name} ({b[name]['date']}, `{b[name]['command']}`)"
        for name in BENCHMARKS
        if name in b and name not in run["benchmarks"]
    ]
    if older:
        lines += [f"Kept from earlier runs: {'; '.join(older)}.", ""]
    i = b.get("idle")
    if i and "error" not in i:
        lines += [
            f"Requests per idle pass ({i['apps']} Ready apps x {i['rounds']} rounds, from the API server's audit log):",
            "",
            "| request | per pass |",
            "| --- | --- |",
            *[f"| `{k}` | {fmt(v, 2)} |" for k, v in i["breakdown_per_pass"].items()],
            "",
        ]
    m = b.get("memory")
    if m and "error" not in m:
        lines += [
            "Operator memory (`bridgedapp run`, all namespaces; apps without Deployments). Rows 0 to "
            f"{m['levels'][-1]['apps']}: one process, sampled after each batch is reconciled; last row: a fresh "
            "process started on the same apps, sampled once quiet:",
            "",
            "| BridgedApps | RSS MiB, median (min-max) | peak RSS MiB | ratio | reconciled (quiet) after |",
            "| --- | --- | --- | --- | --- |",
            *[
                f"| {lv['apps']}{' (fresh process)' if lv.get('fresh_process') else ''} | "
                f"{fmt(lv['rss_mib']['median'], 1)} ({fmt(lv['rss_mib']['min'], 1)}-"
                f"{fmt(lv['rss_mib']['max'], 1)}) | {fmt(lv['peak_mib'], 1)} | {fmt(lv['ratio'])}x | "
                f"{fmt(lv['reconcile_seconds'], 1)} s |"
                for lv in [*m["levels"], m["restart"]]
            ],
            "",
            "The operator's API requests per app (audit log; its `kubernetes` client and Kopf's; watches "
            f"excluded); full passes counted by {m.get('passes_from', 'its one GET of the Strimzi Deployment each')}:",
            "",
            "| phase | passes/app | requests/app | reads | writes | top requests per app |",
            "| --- | --- | --- | --- | --- | --- |",
            *[
                f"| {label} | {fmt(q['passes_per_app'], 1)} | {fmt(q['requests_per_app'], 1)} | "
                f"{fmt(q['reads_per_app'], 1)} | {fmt(q['writes_per_app'], 1)} | "
                + ", ".join(f"`{k}` {fmt(v, 1)}" for k, v in list(q["breakdown_per_app"].items())[:6])
                + " |"
                for label, q in [
                    *[
                        (f"creating apps {q['to_apps'] - q['apps'] + 1}-{q['to_apps']}", q)
                        for q in m["requests_creating"]
                    ],
                    (f"restart with {m['requests_restart']['apps']} reconciled apps", m["requests_restart"]),
                ]
            ],
            "",
            "Events posted per app, by reason: "
            + ", ".join(f"{k} {fmt(v, 2)}" for k, v in m["events_per_app"].items())
            + ".",
            "",
        ]
    sc = b.get("scale")
    if sc and "error" not in sc:
        lines += scale_report.section(sc)
    lines += ["## Reading", "", " ".join(_reading(b)), ""]
    plots = [f"![{name}]({PLOTS[name]})" for name in BENCHMARKS if name in b and "error" not in b[name]]
    lines += ["## Plots", "", *plots, ""]
    return "\n".join(lines)


# ---- plots -----------------------------------------------------------------------------------------------------


def _plot(path: Path, name: str, record: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawers = {
        "idle": _plot_idle,
        "memory": _plot_memory,
        "ready": _plot_ready,
        "render": _plot_render,
        "scale": scale_report.plot,
    }
    fig = drawers[name](plt, record)
    stamp = f"{record['date']}  {'quick' if record.get('quick') else 'full'} run  load {record['load_before'][0]:.2f}"
    fig.text(0.99, 0.01, stamp, ha="right", va="bottom", fontsize=7, color="#555555")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _box(ax: Any, data: list[list[float]], labels: list[str], colors: list[str]) -> list[list[float]]:
    """Boxes with every sample drawn over them; returns the x position given to each sample."""
    parts = ax.boxplot(data, tick_labels=labels, patch_artist=True, widths=0.5, showfliers=False)
    for patch, color in zip(parts["boxes"], colors, strict=True):
        patch.set_facecolor(color)
        patch.set_alpha(0.35)
    positions: list[list[float]] = []
    for k, (values, color) in enumerate(zip(data, colors, strict=True), start=1):
        xs = [k + (j % 7 - 3) * 0.03 for j in range(len(values))]
        ax.scatter(xs, values, s=10, color=color, alpha=0.8, zorder=3)
        positions.append(xs)
    return positions


def _x(value: float) -> str:
    """A ratio for a title: two decimals below 10, one above."""
    return f"{value:.2f}x" if value < 10 else f"{value:.1f}x"


def _plot_idle(plt: Any, r: dict[str, Any]) -> Any:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.4), gridspec_kw={"width_ratios": [1, 1.5]})
    get_ms = [s * 1000 for s in r["get_seconds"]]
    pass_ms = [s * 1000 for s in r["pass_seconds"]]
    _box(
        ax1,
        [get_ms, pass_ms],
        ["GET of the app\n(baseline)", "idle reconcile\npass"],
        [BASE_COLOR, MEASURED_COLOR],
    )
    ax1.set_ylim(bottom=0)
    ax1.set_ylabel("milliseconds")
    ax1.set_title(f"Idle pass = {_x(r['ratio'])} one GET\n({r['passes']} passes, {r['apps']} Ready apps)")
    ax1.grid(axis="y", alpha=0.3)

    items = sorted(r["breakdown_per_pass"].items(), key=lambda kv: kv[1])
    labels = [k for k, _ in items]
    values = [v for _, v in items]
    colors = [
        WRITE_COLOR if k.split()[0] in ("create", "update", "patch", "delete") else MEASURED_COLOR
        for k in labels
    ]
    ax2.barh(labels, values, color=colors, alpha=0.8)
    ax2.axvline(r["requests_per_get"], color=BASE_COLOR, linestyle="--", label="baseline: 1 GET = 1 request")
    ax2.set_xlabel("API requests per idle pass (audit log)")
    ax2.set_title(
        f"{r['requests_per_pass']:.1f} requests per pass: {r['reads_per_pass']:.1f} reads, "
        f"{r['writes_per_pass']:.1f} writes"
    )
    ax2.legend(loc="lower right", fontsize=8)
    ax2.grid(axis="x", alpha=0.3)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def _plot_memory(plt: Any, r: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    levels = r["levels"]
    xs = [lv["apps"] for lv in levels]
    med = [lv["rss_mib"]["median"] for lv in levels]
    low = [lv["rss_mib"]["median"] - lv["rss_mib"]["min"] for lv in levels]
    high = [lv["rss_mib"]["max"] - lv["rss_mib"]["median"] for lv in levels]
    ax.errorbar(
        xs,
        med,
        yerr=[low, high],
        fmt="o-",
        color=MEASURED_COLOR,
        capsize=4,
        label="one process, after each batch (median, min-max)",
    )
    ax.plot(
        xs, [lv["peak_mib"] for lv in levels], "x:", color=MEASURED_COLOR, alpha=0.6, label="peak RSS (VmHWM)"
    )
    restart = r["restart"]
    ax.plot(
        [restart["apps"]],
        [restart["rss_mib"]["median"]],
        "s",
        color="#ff7f0e",
        markersize=8,
        label="fresh process on the same apps",
    )
    ax.annotate(
        f"{restart['ratio']:.2f}x",
        (restart["apps"], restart["rss_mib"]["median"]),
        textcoords="offset points",
        xytext=(0, 9),
        ha="center",
        color="#ff7f0e",
    )
    ax.axhline(r["baseline_mib"], color=BASE_COLOR, linestyle="--", label="baseline: 0 BridgedApps")
    for x, y, lv in zip(xs, med, levels, strict=True):
        if lv["apps"]:
            ax.annotate(
                f"{lv['ratio']:.2f}x", (x, y), textcoords="offset points", xytext=(-4, 10), ha="right"
            )
    ax.set_ylim(0, max(lv["peak_mib"] for lv in [*levels, restart]) * 1.25)
    ax.set_xlabel("BridgedApps reconciled")
    ax.set_ylabel("resident set, MiB")
    ax.set_title("Operator memory vs the same operator with no BridgedApps")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def _plot_ready(plt: Any, r: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=(9.5, 4.8))
    series = [r["rollout_seconds"], r["update_rollout_seconds"], r["injected_seconds"], r["ready_seconds"]]
    xs = _box(
        ax,
        series,
        [
            f"Deployment created\nto available\n({r['replicas']} replicas, baseline)",
            "the same Deployment:\nrolling update\n(template change)",
            "BridgedApp created\nto SidecarInjected\n=True",
            "BridgedApp created\nto Ready=True",
        ],
        [BASE_COLOR, "#bbbbbb", "#9ecae1", MEASURED_COLOR],
    )
    for k in range(len(r["ready_seconds"])):
        ax.plot([x[k] for x in xs], [s[k] for s in series], color="#999999", alpha=0.35, linewidth=0.8)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("seconds")
    ax.set_title(
        f"Time to Ready = {_x(r['ratio'])} a plain rollout ({r['rounds']} rounds; lines join one round)"
    )
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def _plot_render(plt: Any, r: dict[str, Any]) -> Any:
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(8.5, 4.6))
    base = [s * 1e3 for s in r["baseline_seconds_per_call"]]
    rend = [s * 1e3 for s in r["render_seconds_per_call"]]
    copy = [s * 1e3 for s in r["json_copy_seconds_per_call"]]
    _box(
        ax,
        [base, copy, rend],
        [
            "yaml.safe_load + json.dumps\n(baseline)",
            "JSON copy of the\nparsed objects",
            f"bridgedapp render\n({r['objects_rendered']} objects out)",
        ],
        [BASE_COLOR, "#bbbbbb", MEASURED_COLOR],
    )
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.set_ylabel("milliseconds per call (batch means, log scale)")
    ax.set_title(
        f"Render of the sample = {_x(r['ratio'])} its YAML round trip, {_x(r['ratio_to_json_copy'])} a JSON copy\n"
        f"({r['render_per_second']['median']:.0f} renders/s vs {r['baseline_per_second']['median']:.0f} "
        f"round trips/s and {r['json_copy_per_second']['median']:.0f} copies/s)"
    )
    ax.grid(axis="y", alpha=0.3, which="both")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
