"""Judging a run from its readings: symptoms that appeared, SLO breaks that lasted, blips."""

from __future__ import annotations

from chaos.scenarios.journal import Journal, ProbeLog, Reading
from chaos.scenarios.monitor import ProbeMonitor
from chaos.scenarios.verdict import fixed_deviations, missing_symptoms, streaks, time_to_symptom
from chaos.settings import load_stack_settings

INJECTED_AT = 1000.0


def log(role: str, *readings: tuple[str, bool] | tuple[str, bool, str]) -> ProbeLog:
    """A probe log from (phase, holds[, error]) readings one second apart from the injection."""
    probe = ProbeLog(
        name=f"{role}_probe", role=role, kind="promql", condition="x > 0", description="d"
    )  # type: ignore[arg-type]
    for n, (phase, holds, *error) in enumerate(readings):
        probe.readings.append(
            Reading(
                at=INJECTED_AT + n,
                phase=phase,
                value=1.0 if holds else 0.0,
                holds=holds,
                error=error[0] if error else None,
            )
        )
    return probe


def test_time_to_symptom_is_the_first_observe_reading_that_held() -> None:
    symptom = log("symptom", ("baseline", True), ("observe", False), ("observe", True))
    assert time_to_symptom(symptom, INJECTED_AT) == 2.0
    assert time_to_symptom(log("symptom", ("observe", False)), INJECTED_AT) is None


def test_a_symptom_that_never_held_is_missing() -> None:
    appeared = log("symptom", ("observe", False), ("observe", True))
    absent = log("symptom", ("observe", False), ("observe", False))
    absent.name = "absent"
    assert missing_symptoms([appeared, absent], 20) == [
        "symptom absent did not appear within the 20s window (last: 0)"
    ]


def test_streaks_skip_readings_that_could_not_be_taken() -> None:
    probe = log("slo", ("observe", False), ("observe", False, "timeout"), ("observe", False),
                ("observe", True), ("observe", False))  # fmt: skip
    assert [len(s) for s in streaks(probe.readings, holding=False)] == [2, 1]
    assert [len(s) for s in streaks(probe.readings, holding=True)] == [1]


def test_fixed_mode_counts_sustained_breaks_and_notes_blips() -> None:
    blip = log("slo", ("observe", True), ("observe", False), ("observe", True))
    broken = log("slo", ("observe", False), ("observe", False), ("observe", True))
    broken.name = "broken"
    deviations, notes = fixed_deviations([], [blip, broken], injected_at=INJECTED_AT)
    assert deviations == ["SLO broken broke for 2 readings from +0.0s (0)"]
    assert notes == ["blip: SLO slo_probe broke for 1 readings from +1.0s (0)"]


def test_fixed_mode_judges_the_bugs_own_symptoms() -> None:
    blip = log("symptom", ("baseline", False), ("observe", True), ("observe", False))
    lasting = log("symptom", ("observe", False), ("observe", True), ("observe", True))
    lasting.name = "lasting"
    deviations, notes = fixed_deviations([blip, lasting], [], injected_at=INJECTED_AT)
    assert deviations == ["symptom lasting showed with the fix on for 2 readings from +1.0s (1)"]
    assert notes == [
        "blip: symptom symptom_probe showed with the fix on for 1 readings from +1.0s (1)"
    ]


def test_fixed_mode_notes_the_symptoms_the_fault_itself_causes() -> None:
    slow = log("symptom", ("baseline", False), ("observe", True), ("observe", True))
    slow.caused_by_fault = True
    deviations, notes = fixed_deviations([slow], [], injected_at=INJECTED_AT)
    assert deviations == []
    assert notes == [
        "symptom symptom_probe (caused by the fault itself) seen with the fix on at 2 of 2 "
        "readings, first at +1.0s (1)"
    ]


def test_an_slo_that_could_never_be_read_deviates() -> None:
    unreadable = log("slo", ("observe", False, "Prometheus did not answer"))
    deviations, _notes = fixed_deviations([], [unreadable], injected_at=INJECTED_AT)
    assert deviations == ["SLO slo_probe could not be read while observed"]


def test_the_steady_state_needs_every_symptom_read_and_absent() -> None:
    journal = Journal(scenario="s", mode="default", options={}, definition={})
    monitor = ProbeMonitor(load_stack_settings(), journal, [])
    absent = log("symptom", ("baseline", False))
    no_series = log("symptom", ("baseline", False, "no data"))
    no_series.readings[-1].no_data = True
    unreadable = log("symptom", ("baseline", False, "Prometheus did not answer"))
    showing = log("symptom", ("baseline", True))
    assert monitor.none_hold([absent, no_series], since=INJECTED_AT)
    assert not monitor.none_hold([absent, unreadable], since=INJECTED_AT)
    assert not monitor.none_hold([absent, showing], since=INJECTED_AT)
    assert not monitor.none_hold([absent], since=INJECTED_AT + 1), "no fresh reading"
