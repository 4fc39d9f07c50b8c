"""Judge a run from its probes' readings: did the symptoms appear, did the SLO hold?

- Default mode (the bug on): every symptom must hold at some reading of the
  observe window; when it first did is its time to symptom.
- Fixed mode (the fix on): every SLO probe must hold, and the bug's own symptoms
  must stay away. A single reading is one sample, so a blip (one slow HTTP
  answer on a busy machine) is noted, but only a break, or a symptom, lasting
  SUSTAINED readings in a row counts, as an alert's `for:` does. Symptoms marked
  `caused_by_fault` come from the fault itself, which the fix does not remove
  (the network stays slow, the provider keeps failing): seeing them is noted.
  Readings that could not be taken (an error) neither hold nor break.
- Fixed mode, too: the business invariants read after recovery
  (chaos.scenarios.invariants) must all be zero; one that could not be read
  counts as an SLO that could not be read does.
"""

from __future__ import annotations

from chaos.scenarios.journal import InvariantCount, ProbeLog, Reading

#: Readings in a row a fixed-mode condition must last to count.
SUSTAINED = 2


def time_to_symptom(log: ProbeLog, injected_at: float) -> float | None:
    """Return seconds from injection to the first observe reading that held, None if none did."""
    held = log.first_held("observe")
    return None if held is None else round(held.at - injected_at, 2)


def streaks(readings: list[Reading], *, holding: bool) -> list[list[Reading]]:
    """Return the runs of consecutive readings that hold (or not), skipping failed readings."""
    found: list[list[Reading]] = []
    current: list[Reading] = []
    for reading in readings:
        if reading.error is not None:
            continue
        if reading.holds == holding:
            current.append(reading)
        elif current:
            found.append(current)
            current = []
    if current:
        found.append(current)
    return found


def shown(reading: Reading) -> str:
    """Return what a reading saw, in a few words."""
    if reading.error:
        return reading.error
    if reading.detail:
        return reading.detail
    return "no data" if reading.value is None else f"{reading.value:.4g}"


def missing_symptoms(symptoms: list[ProbeLog], window_s: float) -> list[str]:
    """Default mode: return a deviation for each symptom that never held while observed."""
    return [
        f"symptom {log.name} did not appear within the {window_s:g}s window"
        + (f" (last: {shown(log.of('observe')[-1])})" if log.of("observe") else "")
        for log in symptoms
        if log.first_held("observe") is None
    ]


def fixed_deviations(
    symptoms: list[ProbeLog], slo: list[ProbeLog], *, injected_at: float, sustained: int = SUSTAINED
) -> tuple[list[str], list[str]]:
    """Fixed mode: return (deviations, notes).

    Deviations: sustained SLO breaks and sustained showings of the bug's own symptoms.
    Notes: blips, and the symptoms the fault itself causes.
    """
    deviations: list[str] = []
    notes: list[str] = []

    def judge(observed: list[Reading], *, holding: bool, what: str) -> None:
        """Sort each streak of readings where the condition was (not) holding: lasting or a blip."""
        for streak in streaks(observed, holding=holding):
            text = (
                f"{what} for {len(streak)} readings from "
                f"+{streak[0].at - injected_at:.1f}s ({shown(streak[0])})"
            )
            if len(streak) >= sustained:
                deviations.append(text)
            else:
                notes.append(f"blip: {text}")

    for log in symptoms:
        observed = [r for r in log.of("observe") if r.error is None]
        held = [r for r in observed if r.holds]
        if not held:
            continue
        if log.caused_by_fault:
            notes.append(
                f"symptom {log.name} (caused by the fault itself) seen with the fix on at "
                f"{len(held)} of {len(observed)} readings, first at "
                f"+{held[0].at - injected_at:.1f}s ({shown(held[0])})"
            )
            continue
        judge(observed, holding=True, what=f"symptom {log.name} showed with the fix on")
    for log in slo:
        observed = [r for r in log.of("observe") if r.error is None]
        if not observed:
            deviations.append(f"SLO {log.name} could not be read while observed")
            continue
        judge(observed, holding=False, what=f"SLO {log.name} broke")
    return deviations, notes


def broken_invariants(counts: list[InvariantCount]) -> list[str]:
    """Fixed mode: return a deviation for each invariant the run broke or could not read."""
    return [
        f"invariant {c.name} broken: {c.count} ({'; '.join(filter(None, [c.description, c.detail]))})"
        if c.count is not None
        else f"invariant {c.name} could not be read: {c.detail}"
        for c in counts
        if c.count != 0
    ]
