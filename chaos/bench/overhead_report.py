"""The results of `make bench-overhead`: one record per run, the on/off summary, its Markdown."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import asdict, dataclass

from chaos.bench.overhead_shops import SIDES

WORKLOADS = {"catalog": "CatalogShopper", "checkout": "CheckoutShopper"}


@dataclass(frozen=True)
class Run:
    """One shop's measured run of one workload in one round."""

    workload: str
    side: str
    round: int
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p99_ms: float
    loadgen_cpu_percent: float
    shop_cpu_ms_per_request: float


def summarise_workload(runs: list[Run], workload: str) -> dict[str, object]:
    """Return one workload's medians and on/off ratios, compared within rounds."""
    mine = {side: [r for r in runs if (r.workload, r.side) == (workload, side)] for side in SIDES}
    median = {side: statistics.median(r.rps for r in mine[side]) for side in SIDES}
    cpu = {side: statistics.median(r.shop_cpu_ms_per_request for r in mine[side]) for side in SIDES}
    # Both sides of a round ran at the same moment: compare within rounds.
    pairs = list(zip(mine["on"], mine["off"], strict=True))
    ratios = [on.rps / max(off.rps, 1e-9) for on, off in pairs]
    ratio = statistics.median(ratios)
    cpu_ratio = statistics.median(
        on.shop_cpu_ms_per_request / max(off.shop_cpu_ms_per_request, 1e-9) for on, off in pairs
    )
    return {
        "median_rps": {side: round(v, 1) for side, v in median.items()},
        "on_to_off_ratio": round(ratio, 3),
        "on_to_off_ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
        "on_to_off_ratio_stdev": round(statistics.stdev(ratios), 3) if len(ratios) > 1 else None,
        "throughput_loss_percent": round(100 * (1 - ratio), 1),
        # What each request cost the shop: the other half of the picture.
        "median_shop_cpu_ms_per_request": {side: round(v, 3) for side, v in cpu.items()},
        "shop_cpu_on_to_off_ratio": round(cpu_ratio, 3),
        "failures": sum(r.failures for r in runs if r.workload == workload),
    }


def summarise(runs: list[Run], args: argparse.Namespace) -> dict[str, object]:
    """Return the whole summary: how it was measured, each workload's figures, every run."""
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{os.cpu_count()} cores",
        "load": (
            f"two Locust processes at once (one per shop), FastHttpUser, {args.users} users "
            f"each, no think time, {args.seconds} s a run"
        ),
        "rounds": args.rounds,
        # A/A: both shops uninstrumented, so every ratio shows the bench's own noise.
        "calibration": args.calibrate,
        "workloads": {workload: summarise_workload(runs, workload) for workload in WORKLOADS},
        "runs": [asdict(r) for r in runs],
    }


def markdown(summary: dict[str, object]) -> list[str]:
    """Return the summary as Markdown lines: a table of workloads, then one of runs."""
    lines = [
        "# Instrumentation overhead"
        + (" (calibration: both shops off)" if summary["calibration"] else ""),
        "",
        f"{summary['when']}, {summary['machine']}; {summary['load']}; "
        f"{summary['rounds']} rounds, two fresh shops each round, both loaded at once, each "
        "core shared by one worker of each shop; ratios are medians of each round's on/off. "
        + (
            "Command: `make bench-overhead ARGS=--calibrate` (the side called on is "
            "uninstrumented too)."
            if summary["calibration"]
            else "Command: `make bench-overhead`."
        ),
        "",
        "| workload | on (req/s) | off (req/s) | on / off | range over rounds | stdev "
        "| throughput lost | shop CPU ms/request on | off | on / off |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name, w in summary["workloads"].items():  # type: ignore[attr-defined]
        cpu = w["median_shop_cpu_ms_per_request"]
        lines.append(
            f"| {name} | {w['median_rps']['on']} | {w['median_rps']['off']} "
            f"| {w['on_to_off_ratio']} | {w['on_to_off_ratio_range'][0]} to "
            f"{w['on_to_off_ratio_range'][1]} | {'n/a' if w['on_to_off_ratio_stdev'] is None else w['on_to_off_ratio_stdev']} "
            f"| {w['throughput_loss_percent']} % "
            f"| {cpu['on']} | {cpu['off']} | {w['shop_cpu_on_to_off_ratio']} |"
        )
    lines += [
        "",
        "| workload | side | round | req/s | p50 ms | p99 ms | failures | Locust CPU % "
        "| shop CPU ms/request |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in summary["runs"]:  # type: ignore[attr-defined]
        lines.append(
            f"| {r['workload']} | {r['side']} | {r['round']} | {r['rps']:.0f} | {r['p50_ms']:.0f} "
            f"| {r['p99_ms']:.0f} | {r['failures']} | {r['loadgen_cpu_percent']} "
            f"| {r['shop_cpu_ms_per_request']} |"
        )
    return lines
