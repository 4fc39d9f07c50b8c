"""What each probe of a run saw, measured against its limit, and a failing item's message.

For every probe: its limit in a few words, its worst observe reading (the one
closest to, or furthest past, the limit) and that reading as a fraction of the
limit (`usage`: 0.62 is 62 % of the limit used, above 1 past it), and when it
turned: for an SLO probe, the first break lasting verdict.SUSTAINED readings;
for a symptom, the first reading at which it held. Times are seconds after the
injection, i.e. into the observe phase, as the runner's own deviations count them.
In fixed mode a failing item's message also names each business invariant the
run broke (or could not read), with its count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chaos.scenarios import verdict
from chaos.scenarios.journal import InvariantCount, Journal, ProbeLog, Reading
from chaos.scenarios.model import HTTPProbe, Probe, Scenario

UPPER_BOUNDS = ("<", "<=")
LOWER_BOUNDS = (">", ">=")
_LATENCY = re.compile(r" in ([0-9.]+)s$")


@dataclass(frozen=True)
class ProbeResult:
    """One probe over one run's observe window."""

    name: str
    role: str
    kind: str
    condition: str
    limit: str
    readings: int
    held: int
    worst: float | None
    worst_shown: str
    usage: float | None
    #: SLO: the first sustained break; symptom: the first reading that held (None: never).
    turned_at_s: float | None
    turned_shown: str | None
    caused_by_fault: bool = False

    @property
    def broke(self) -> bool:
        """Return whether an SLO probe broke for SUSTAINED readings in a row."""
        return self.role == "slo" and self.turned_at_s is not None


def injected_at(journal: Journal) -> float | None:
    """Return when the faults were on: the end of the inject phase (None if never reached)."""
    inject = journal.phase("inject")
    return inject.end if inject is not None else None


def limit_of(probe: Probe) -> str:
    """Return a probe's limit in a few words: `< 1`, `== 0`, `200 within 1s`."""
    if isinstance(probe, HTTPProbe):
        within = f" within {probe.max_latency_s:g}s" if probe.max_latency_s else ""
        return f"{probe.expect_status}{within}"
    return f"{probe.comparator} {probe.threshold:g}"


def latency(reading: Reading) -> float | None:
    """Return the latency an HTTP reading's detail records (`200 in 0.123s`)."""
    found = _LATENCY.search(reading.detail or "")
    return float(found.group(1)) if found else None


def worst_reading(probe: Probe, observed: list[Reading]) -> Reading | None:
    """Return the observe reading closest to (or furthest past) the probe's limit."""
    if not observed:
        return None
    if isinstance(probe, HTTPProbe):
        failed = [r for r in observed if r.value != probe.expect_status]
        return failed[0] if failed else max(observed, key=lambda r: latency(r) or 0.0)
    numbers = [r for r in observed if r.value is not None]
    if not numbers:
        return observed[-1]
    if probe.comparator in LOWER_BOUNDS:
        return min(numbers, key=lambda r: r.value or 0.0)
    if probe.comparator == "!=":
        return next((r for r in numbers if not r.holds), numbers[-1])
    return max(numbers, key=lambda r: r.value or 0.0)


def usage_of(probe: Probe, worst: Reading | None) -> float | None:
    """Return the worst reading as a fraction of the limit (None: no measure, or no reading)."""
    if worst is None:
        return None
    if isinstance(probe, HTTPProbe):
        seconds = latency(worst)
        if worst.value != probe.expect_status or not probe.max_latency_s or seconds is None:
            return None
        return seconds / probe.max_latency_s
    value, threshold = worst.value, probe.threshold
    if value is None:
        return None
    if probe.comparator in UPPER_BOUNDS and threshold > 0:
        return max(value, 0.0) / threshold
    if probe.comparator in LOWER_BOUNDS and value > 0 and threshold >= 0:
        return threshold / value
    if probe.comparator in (*UPPER_BOUNDS, "==") and value == threshold == 0:
        return 0.0  # a count that must stay zero, and stayed zero
    return None


def _turn(log: ProbeLog, observed: list[Reading]) -> Reading | None:
    if log.role == "symptom":
        return next((r for r in observed if r.holds), None)
    for streak in verdict.streaks(observed, holding=False):
        if len(streak) >= verdict.SUSTAINED:
            return streak[0]
    return None


def probe_result(log: ProbeLog, probe: Probe, start: float | None) -> ProbeResult:
    """Measure one probe's observe readings against its limit."""
    observed = [r for r in log.of("observe") if r.error is None]
    worst = worst_reading(probe, observed)
    turn = _turn(log, observed)
    return ProbeResult(
        name=log.name,
        role=log.role,
        kind=log.kind,
        condition=log.condition,
        limit=limit_of(probe),
        readings=len(observed),
        held=sum(r.holds for r in observed),
        worst=None if worst is None else worst.value,
        worst_shown="-" if worst is None else verdict.shown(worst),
        usage=usage_of(probe, worst),
        turned_at_s=None if turn is None or start is None else round(turn.at - start, 1),
        turned_shown=None if turn is None else verdict.shown(turn),
        caused_by_fault=log.caused_by_fault,
    )


def probe_results(journal: Journal, scenario: Scenario) -> list[ProbeResult]:
    """Measure every probe of a run: the SLO probes first, then the symptoms."""
    probes = {p.name: p for p in (*scenario.slo, *scenario.symptoms)}
    start = injected_at(journal)
    logs = sorted(journal.probes.values(), key=lambda log: log.role != "slo")
    return [probe_result(log, probes[log.name], start) for log in logs if log.name in probes]


def _percent(usage: float | None) -> str:
    return "" if usage is None else f", {usage:.0%} of the limit"


def deviation_lines(
    results: list[ProbeResult], *, fixed: bool, window_s: float
) -> list[tuple[str, str]]:
    """Return (in short, in full) for each probe that went against the expectation."""
    lines = []
    for r in results:
        at = f"+{r.turned_at_s:.1f}s" if r.turned_at_s is not None else ""
        if fixed and r.broke:
            short = f"SLO {r.name} broke at {at}: {r.turned_shown} (limit {r.limit})"
            lines.append((short, (
                f"SLO {r.name} broke at {at} into observe: {r.turned_shown} (limit {r.limit}); "
                f"worst {r.worst_shown}{_percent(r.usage)}; held {r.held} of {r.readings} readings"
            )))  # fmt: skip
        elif fixed and r.role == "symptom" and not r.caused_by_fault and at:
            lines.append((f"symptom {r.name} showed at {at}", (
                f"symptom {r.name} showed with the fix on at {at} into observe: "
                f"{r.turned_shown} (shows when {r.limit}); held {r.held} of {r.readings} readings"
            )))  # fmt: skip
        elif not fixed and r.role == "symptom" and not at:
            lines.append((f"symptom {r.name} never appeared", (
                f"symptom {r.name} did not appear within the {window_s:g}s observe window: "
                f"closest {r.worst_shown} (shows when {r.limit}); {r.readings} readings"
            )))  # fmt: skip
    return lines


def invariant_lines(counts: list[InvariantCount]) -> list[tuple[str, str]]:
    """Return (in short, in full) for each invariant broken (fixed mode) or not read."""
    lines = []
    for c in counts:
        if c.count is None:
            short = f"invariant {c.name} not read"
            lines.append((short, f"invariant {c.name} could not be read: {c.detail}"))
        elif c.count:
            short = f"invariant {c.name} broken: {c.count}"
            why = "; ".join(filter(None, [c.description, c.detail]))
            lines.append((short, f"{short} ({why})"))
    return lines


def failure_message(journal: Journal, results: list[ProbeResult], *, fixed: bool) -> str:
    """Return a failing item's message: what deviated in one line, then each probe, the report.

    The first line is what pytest's short summary shows.
    """
    window = float(journal.options.get("duration_s") or 0)
    found = deviation_lines(results, fixed=fixed, window_s=window)
    if fixed:
        found += invariant_lines(journal.invariants)
    judged = found and not any(p.status == "error" for p in journal.phases)
    mode = "fixed" if fixed else "bug"
    head = f"{journal.scenario} ({mode} mode) {journal.verdict}"
    lines = [f"{head}: {'; '.join(short for short, _ in found)}" if judged else head]
    if judged:
        lines += [f"  {full}" for _, full in found]
    else:  # the run did not get as far as judging the probes: the runner's own words
        lines += [f"  {d}" for d in journal.deviations]
        lines += [
            f"  {p.name}: {p.error}" for p in journal.phases if p.error and p.name != "observe"
        ]
    lines.append(f"  runner exit code {journal.exit_code}; report: {journal.report_dir}/report.md")
    return "\n".join(lines)
