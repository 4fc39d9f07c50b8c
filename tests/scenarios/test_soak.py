"""The soak's tallies: runs passed, durations and how long the slowest symptom took to show."""

from __future__ import annotations

from chaos.scenarios.soak import SoakRun, markdown, plan, slowest_symptom


def journal_with(turned: dict[str, float | None]) -> dict[str, object]:
    return {
        "phases": [
            {"name": "baseline", "output": {}},
            {"name": "observe", "output": {"time_to_symptom_s": turned}},
        ]
    }


def test_the_slowest_symptom_is_the_last_one_to_show() -> None:
    assert slowest_symptom(journal_with({"a": 2.0, "b": 7.5})) == 7.5
    assert slowest_symptom(journal_with({"a": 2.0, "b": None})) is None  # one never showed
    assert slowest_symptom({"verdict": "no journal: boom"}) is None


def run(mode: str, n: int, code: int, seconds: float, symptom: float | None) -> SoakRun:
    deviations = [] if code == 0 else ["symptom x did not appear within the 30s window"]
    return SoakRun("s", mode, n, code, "as expected", seconds, deviations, None, symptom)


def test_the_table_tallies_each_scenario_and_mode() -> None:
    runs = [
        run("default", 1, 0, 20.0, 3.0),
        run("default", 2, 0, 25.0, 8.0),
        run("default", 3, 1, 40.0, None),
        run("fixed", 1, 0, 39.0, None),
    ]
    text = "\n".join(markdown(runs, busy=False, per_mode=3))
    assert "| s | default | 2/3 | 25 | 40 | 8, 8 |" in text
    assert "| s | fixed | 1/1 | 39 | 39 | — |" in text
    assert "- s default #3: exit 1, as expected" in text
    assert "  - symptom x did not appear within the 30s window" in text


def test_the_plan_runs_each_mode_of_a_scenario_in_a_row() -> None:
    assert list(plan(["a", "b"], ["default", "fixed"], 2)) == [
        ("a", "default", 1), ("a", "default", 2), ("a", "fixed", 1), ("a", "fixed", 2),
        ("b", "default", 1), ("b", "default", 2), ("b", "fixed", 1), ("b", "fixed", 2),
    ]  # fmt: skip
