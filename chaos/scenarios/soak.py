"""`make soak-scenarios N=10`: every scenario's both modes, N runs each in a row, tallied.

A scenario must not deviate because of the machine's speed or the moment it
started: this runs each mode N times on a stack of its own (temporary state
folder, free loopback ports) and counts how each run ended. `--busy-core`
keeps one core busy with a CPU-bound process for the whole soak, as another job
on a shared CI machine would. Results: results/soak-scenarios[-busy].{json,md}
(or `--name`), with each default run's slowest symptom (seconds from injection
to the last symptom that showed) and each failed run's verdict and report
folder. Ctrl-C or SIGTERM stops after the run in progress has rolled back, and
the runs done so far are written (both are handled whatever was inherited: a
shell starts a background job with SIGINT ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
    #: Default mode: seconds from injection until the last of its symptoms showed.
    slowest_symptom_s: float | None = None


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
    """Run one scenario once in one mode; return how it ended.

    On Ctrl-C the run gets the signal too (passed on, in case it came to this process
    alone) and is waited for: it rolls back what it injected before it exits.
    """
    argv = [sys.executable, "-m", "chaos", "scenario", scenario, "--json",
            "--report-dir", str(reports), *(["--fixed"] if mode == "fixed" else [])]  # fmt: skip
    started = time.monotonic()
    child = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = child.communicate(timeout=RUN_TIMEOUT_S)
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
        # A second signal must not cut the wait: the private stack would go down under
        # the run while it rolls back.
        previous = {n: signal.signal(n, signal.SIG_IGN) for n in (signal.SIGINT, signal.SIGTERM)}
        try:
            child.communicate(timeout=RUN_TIMEOUT_S)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        raise
    except subprocess.TimeoutExpired:
        child.kill()
        stdout, stderr = child.communicate()
    seconds = round(time.monotonic() - started, 1)
    try:
        journal = json.loads(stdout)
    except ValueError:
        journal = {"verdict": f"no journal: {stderr.strip()[-300:]}"}
    return SoakRun(
        scenario, mode, n, child.returncode, str(journal.get("verdict")), seconds,
        list(journal.get("deviations") or []), journal.get("report_dir"),
        slowest_symptom(journal) if mode == "default" else None,
    )  # fmt: skip


def slowest_symptom(journal: dict[str, Any]) -> float | None:
    """Return the seconds from injection until the last symptom showed (None: one never did)."""
    observe = next((p for p in journal.get("phases", []) if p.get("name") == "observe"), None)
    turned = ((observe or {}).get("output") or {}).get("time_to_symptom_s") or {}
    if not turned or any(v is None for v in turned.values()):
        return None
    return float(max(turned.values()))


def markdown(runs: list[SoakRun], *, busy: bool, per_mode: int) -> list[str]:
    """Return the tallies as Markdown: one row per scenario and mode, then every failed run."""
    lines = [
        "# Scenario soak" + (" (one core kept busy)" if busy else ""),
        "",
        f"{per_mode} consecutive runs of each scenario in each mode on a stack of its own.",
        "",
        "| scenario | mode | passed | median s | slowest s | slowest symptom s (median, max) |",
        "|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[SoakRun]] = {}
    for run in runs:
        groups.setdefault((run.scenario, run.mode), []).append(run)
    for (scenario, mode), group in groups.items():
        seconds = sorted(r.seconds for r in group)
        passed = sum(r.exit_code == 0 for r in group)
        turned = sorted(r.slowest_symptom_s for r in group if r.slowest_symptom_s is not None)
        symptom = f"{turned[len(turned) // 2]:g}, {turned[-1]:g}" if turned else "—"
        lines.append(
            f"| {scenario} | {mode} | {passed}/{len(group)} | "
            f"{seconds[len(seconds) // 2]:g} | {seconds[-1]:g} | {symptom} |"
        )
    failed = [r for r in runs if r.exit_code != 0]
    lines += ["", "## Runs that did not pass", ""] if failed else []
    for r in failed:
        lines.append(f"- {r.scenario} {r.mode} #{r.n}: exit {r.exit_code}, {r.verdict}")
        lines += [f"  - {d}" for d in r.deviations]
    return lines


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each scenario and mode")
    parser.add_argument("--scenarios", help="comma-separated names (default: the catalogue)")
    parser.add_argument("--modes", default=",".join(MODES), help="default,fixed or one of them")
    parser.add_argument("--busy-core", action="store_true", help="keep core 0 busy meanwhile")
    parser.add_argument(
        "--name", help="results file name (default: soak-scenarios, -busy with --busy-core)"
    )
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
    interrupted = False
    with private_stack(*all_services) as settings, busy_core(args.busy_core):
        env = stack_env(settings)
        try:
            for name, mode, n in plan(names, modes, args.runs):
                run = run_once(env, name, mode, n, reports)
                runs.append(run)
                print(f"{name} {mode} {n}/{args.runs}: exit {run.exit_code} "
                      f"({run.verdict}) in {run.seconds:g}s", flush=True)  # fmt: skip
        except KeyboardInterrupt:
            interrupted = True
            print(f"interrupted after {len(runs)} runs: writing them", flush=True)
    name = args.name or "soak-scenarios" + ("-busy" if args.busy_core else "")
    summary = {
        "busy_core": args.busy_core,
        "interrupted": interrupted,
        "runs": [asdict(r) for r in runs],
    }
    path = write_results(name, summary, markdown(runs, busy=args.busy_core, per_mode=args.runs))
    print(path.read_text(), end="")
    print(f"reports of the runs: {reports}")
    if interrupted:
        return 130
    return 0 if all(r.exit_code == 0 for r in runs) else 1


def plan(names: list[str], modes: list[str], runs: int) -> Iterator[tuple[str, str, int]]:
    """Yield (scenario, mode, n) in the order the soak runs them."""
    for name in names:
        for mode in modes:
            for n in range(1, runs + 1):
                yield name, mode, n


if __name__ == "__main__":
    sys.exit(main())
