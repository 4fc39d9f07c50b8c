"""The crash test's report: one row per point, and the verdict, as Markdown and JSON."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from chaos.crashtest.points import PointResult


def verdict(results: list[PointResult]) -> str:
    """Return the run's verdict in one line."""
    killed = sum(r.killed for r in results)
    clean = sum(r.clean for r in results)
    return (
        f"{clean} of {len(results)} points left a clean stack "
        f"({killed} runs killed with SIGKILL, {len(results) - killed} ended before their moment)"
    )


def _cell(lines: list[str]) -> str:
    return "; ".join(lines).replace("|", "\\|") if lines else "nothing"


def markdown(results: list[PointResult], *, seed: int, took_s: float) -> str:
    """Return the report as Markdown."""
    phases = Counter(r.killed_in for r in results if r.killed)
    recoveries = Counter(r.point.recovery for r in results)
    lines = [
        "# Crash test",
        "",
        f"Seed {seed}, {len(results)} points, {took_s / 60:.1f} min. {verdict(results)}.",
        "",
        "Killed in: " + ", ".join(f"{phase} {n}" for phase, n in sorted(phases.items())) + ".",
        f"Recovered by `faultyard reset` {recoveries['reset']} times, by the next run's "
        f"preflight {recoveries['preflight']} times.",
        "",
        "| # | scenario | mode | kill set at | killed in | the kill left | recovery | left after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        p = r.point
        lines.append(
            f"| {p.number} | {p.scenario} | {'fixed' if p.fixed else 'bug'} "
            f"| {p.moment} +{p.delay_s:.2f}s | {r.killed_in} | {_cell(r.left_by_kill)} "
            f"| {p.recovery}{'' if r.recovery_ok else ' (FAILED)'} | {_cell(r.left_after)} |"
        )
    return "\n".join(lines) + "\n"


def write(results: list[PointResult], out_dir: Path, *, seed: int, took_s: float) -> Path:
    """Write crash-test.md and crash-test.json into out_dir; return the Markdown file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "seed": seed,
        "took_s": round(took_s, 1),
        "verdict": verdict(results),
        "clean": all(r.clean for r in results),
        "points": [r.as_dict() for r in results],
    }
    (out_dir / "crash-test.json").write_text(json.dumps(data, indent=2) + "\n")
    path = out_dir / "crash-test.md"
    path.write_text(markdown(results, seed=seed, took_s=took_s))
    return path
