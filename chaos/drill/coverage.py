"""Alert coverage: for each scenario's fault, which alert rules fire, and how long after it.

One scenario at a time: its shoppers start, the alerts already firing are
noted (they are not the fault's), its faults go in, and Prometheus's `ALERTS`
series is read every second for the window; then everything is rolled back.
A fault no alert catches is where the alerting is blind; an alert that only
ever fires before any fault is noise.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chaos.drill.alerts import POLL_S, firing, settle
from chaos.faults.injector import Injector
from chaos.monitoring.prometheus import PrometheusClient
from chaos.scenarios.cleanup import ActiveRun, undo_active, write_active
from chaos.scenarios.load import Load
from chaos.scenarios.model import Scenario
from chaos.stack.manager import Stack

WARM_UP_S = 10.0


@dataclass
class Coverage:
    """What one scenario's fault set off."""

    scenario: str
    #: Alert name -> seconds from injection until it fired.
    fired: dict[str, float] = field(default_factory=dict)
    #: Alerts firing before the fault went in: not the fault's doing.
    already_firing: list[str] = field(default_factory=list)


def measure(
    stack: Stack,
    scenario: Scenario,
    *,
    window_s: float,
    quiet: set[str] = frozenset(),  # type: ignore[assignment]
    progress: Callable[[str], None] = lambda _line: None,
) -> Coverage:
    """Inject the scenario's faults under its load for `window_s`; return the alerts that fired.

    First the alerts of an earlier fault must resolve, down to `quiet`: those firing on the
    stack at rest before any fault (noise, which the matrix then shows as such).
    """
    prometheus = PrometheusClient(stack.settings.prometheus_url, timeout_s=5)
    settle(prometheus, set(quiet), progress)
    injector = Injector(stack)
    result = Coverage(scenario.name)
    load = Load(
        profile=scenario.load,
        host=stack.settings.shop_url,
        out_dir=Path(tempfile.mkdtemp(prefix="faultyard-coverage-")),
        users=scenario.load.users,
        run_time_s=WARM_UP_S + window_s + 10,
    )
    load.start()
    try:
        time.sleep(WARM_UP_S)
        before = firing(prometheus)
        result.already_firing = sorted(before)
        steps = [f.model_dump(mode="json") for f in scenario.faults]
        rollbacks = [r.model_dump(mode="json") for r in scenario.rollbacks]
        write_active(
            stack.settings, ActiveRun("coverage", os.getpid(), time.time(), steps, rollbacks)
        )
        for fault in scenario.faults:
            injector.apply(fault)
        injected = time.monotonic()
        progress(f"{scenario.name}: injected, watching the alerts for {window_s:g}s")
        while (elapsed := time.monotonic() - injected) < window_s:
            for alert in sorted(firing(prometheus) - before - result.fired.keys()):
                result.fired[alert] = round(elapsed, 1)
                progress(f"{scenario.name}: {alert} fired at +{elapsed:.1f}s")
            time.sleep(POLL_S)
    finally:
        undo_active(injector)
        load.stop()
    return result


def markdown(rows: list[Coverage], window_s: float) -> list[str]:
    """Return the coverage matrix: one row per scenario, the alerts it set off and when."""
    lines = [
        "# Alert coverage",
        "",
        f"Each scenario's faults under its own load, alerts watched for {window_s:g} s "
        "(seconds from injection to firing; alerts already firing before are left out).",
        "",
        "| scenario | alerts fired (seconds after injection) | already firing before |",
        "|---|---|---|",
    ]
    for row in rows:
        fired = ", ".join(f"{a} ({s:g})" for a, s in sorted(row.fired.items(), key=lambda x: x[1]))
        lines.append(
            f"| {row.scenario} | {fired or '**none: the alerting is blind to it**'} | "
            f"{', '.join(row.already_firing) or '-'} |"
        )
    return lines
