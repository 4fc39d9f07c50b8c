"""`make soak-scenarios N=10`: every scenario's both modes, N runs each in a row, tallied.

A scenario must not deviate because of the machine's speed or the moment it
started: this runs each mode N times on a stack of its own (temporary state
folder, free loopback ports) and counts how each run ended. `--busy-core`
keeps one core busy with a CPU-bound process for the whole soak, as another job
on a shared CI machine would. Results: results/soak-scenarios[-busy].{json,md},
with each failed run's verdict and report folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from chaos.bench.private_stack import private_stack, write_results
from chaos.scenarios.catalogue import load_catalogue
from chaos.settings import StackSettings
from chaos.stack.services import services

MODES = ("default", "fixed")
#: Longest a single run may take before the soak gives up on it (the runner bounds itself).
RUN_TIMEOUT_S = 600


@dataclass(frozen=True)
class SoakRun:
    scenario: str
    mode: str
    n: int
    exit_code: int
    verdict: str
    seconds: float
    deviations: list[str]
    report_dir: str | None


def stack_env(settings: StackSettings) -> dict[str, str]:
    """Return the environment that points `faultyard` at these settings' stack."""
    ports = {
        f"FAULTYARD_{name.upper()}": str(getattr(settings, name))
        for name in StackSettings.model_fields
        if name.endswith("_port")
    }
    return {**os.environ, **ports, "FAULTYARD_STATE_DIR": str(settings.state_path)}


@contextmanager
def busy_core(enabled: bool) -> Iterator[None]:
    """Keep core 0 busy with a CPU-bound loop while the block runs (if enabled)."""
    if not enabled:
        yield
        return
    loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    os.sched_setaffinity(loop.pid, {0})
    try:
        yield
    finally:
        loop.kill()
        loop.wait()


def run_once(env: dict[str, str], scenario: str, mode: str, n: int, reports: Path) -> SoakRun:
    """Run one scenario once in one mode; return how it ended."""
    argv = [sys.executable, "-m", "chaos", "scenario", scenario, "--json",
            "--report-dir", str(reports), *(["--fixed"] if mode == "fixed" else [])]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    seconds = round(time.monotonic() - started, 1)
    try:
        journal = json.loads(result.stdout)
    except ValueError:
        journal = {"verdict": f"no journal: {result.stderr.strip()[-300:]}"}
    return SoakRun(
        scenario, mode, n, result.returncode, str(journal.get("verdict")), seconds,
        list(journal.get("deviations") or []), journal.get("report_dir"),
    )  # fmt: skip


def markdown(runs: list[SoakRun], *, busy: bool, per_mode: int) -> list[str]:
    """Return the tallies as Markdown: one row per scenario and mode, then every failed run."""
    lines = [
        "# Scenario soak" + (" (one core kept busy)" if busy else ""),
        "",
        f"{per_mode} consecutive runs of each scenario in each mode on a stack of its own.",
        "",
        "| scenario | mode | passed | median s | slowest s |",
        "|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[SoakRun]] = {}
    for run in runs:
        groups.setdefault((run.scenario, run.mode), []).append(run)
    for (scenario, mode), group in groups.items():
        seconds = sorted(r.seconds for r in group)
        passed = sum(r.exit_code == 0 for r in group)
        lines.append(
            f"| {scenario} | {mode} | {passed}/{len(group)} | "
            f"{seconds[len(seconds) // 2]:g} | {seconds[-1]:g} |"
        )
    failed = [r for r in runs if r.exit_code != 0]
    lines += ["", "## Runs that did not pass", ""] if failed else []
    for r in failed:
        lines.append(f"- {r.scenario} {r.mode} #{r.n}: exit {r.exit_code}, {r.verdict}")
        lines += [f"  - {d}" for d in r.deviations]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each scenario and mode")
    parser.add_argument("--scenarios", help="comma-separated names (default: the catalogue)")
    parser.add_argument("--modes", default=",".join(MODES), help="default,fixed or one of them")
    parser.add_argument("--busy-core", action="store_true", help="keep core 0 busy meanwhile")
    args = parser.parse_args()
    catalogue = load_catalogue()
    names = args.scenarios.split(",") if args.scenarios else list(catalogue)
    modes = args.modes.split(",")
    unknown = sorted({*names} - set(catalogue)) + sorted({*modes} - set(MODES))
    if unknown or args.runs < 1:
        parser.error(
            f"unknown scenario or mode: {', '.join(unknown)}" if unknown else "--runs >= 1"
        )
    runs: list[SoakRun] = []
    reports = Path(tempfile.mkdtemp(prefix="faultyard-soak-reports-"))
    all_services = [s.name for s in services(StackSettings())]
    with private_stack(*all_services) as settings, busy_core(args.busy_core):
        env = stack_env(settings)
        for name in names:
            for mode in modes:
                for n in range(1, args.runs + 1):
                    run = run_once(env, name, mode, n, reports)
                    runs.append(run)
                    print(f"{name} {mode} {n}/{args.runs}: exit {run.exit_code} "
                          f"({run.verdict}) in {run.seconds:g}s", flush=True)  # fmt: skip
    name = "soak-scenarios" + ("-busy" if args.busy_core else "")
    summary = {"busy_core": args.busy_core, "runs": [asdict(r) for r in runs]}
    path = write_results(name, summary, markdown(runs, busy=args.busy_core, per_mode=args.runs))
    print(path.read_text(), end="")
    print(f"reports of the runs: {reports}")
    return 0 if all(r.exit_code == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
