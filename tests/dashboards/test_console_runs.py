"""The console's scenarios and runs, on a state folder and journals written by the test.

No stack: the run index and the journals are the runner's own classes (record_run,
Journal), so what the console reads is what a run writes. Starting a real run through
the console is tried in the browser test (tests/dashboards/test_console_run_browser.py).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from chaos.console.app import create_app
from chaos.console.run_marks import phase_marks
from chaos.drill.state import DrillState, save
from chaos.scenarios.catalogue import load_catalogue
from chaos.scenarios.journal import FaultRecord, Journal
from chaos.scenarios.run_index import (
    RunEntry,
    RunInProgressError,
    recent_runs,
    record_run,
    refuse_if_running,
    running_run,
    this_process_started,
)
from chaos.settings import StackSettings, load_stack_settings

TOKEN = "test-token-0123456789"
CATALOGUE = load_catalogue()
#: The run the tests write: it began at T.
T = 1_796_600_000.0


def write_run(
    settings: StackSettings,
    folder: Path,
    *,
    run_id: str,
    ended: bool,
    pid: int = 1,
    pid_started: float | None = None,
) -> Journal:
    """Write a deadlock run's journal (three phases, one fault, one probe) and index it."""
    journal = Journal("deadlock", "default", {}, {"name": "deadlock"}, started_at=T)
    journal.report_dir = str(folder)
    journal.path = folder / "journal.json"
    for offset, name in ((0.0, "preflight"), (1.0, "baseline"), (6.0, "inject")):
        phase = journal.begin(name)
        phase.start, phase.end, phase.status = T + offset, T + offset + 1, "succeeded"
    journal.faults.append(FaultRecord("switch", "switch x on (bug)", {}, T + 6.0, T + 16.0))
    if ended:
        journal.ended_at, journal.verdict, journal.exit_code = T + 30, "as expected", 0
        (folder / "report.md").write_text("# deadlock\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
                                          "![panel](deadlock-01-panel.png)\n<script>x</script>\n")  # fmt: skip
        (folder / "deadlock-01-panel.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    journal.save()
    entry = RunEntry(run_id, "deadlock", "default", T, str(journal.path), pid, pid_started)
    record_run(settings, entry)
    return journal


@pytest.fixture
def settings(tmp_path: Path) -> StackSettings:
    state = load_stack_settings(state_dir=tmp_path / "state")
    state.state_path.mkdir(parents=True)
    (state.state_path / "admin-token").write_text(TOKEN + "\n")
    return state


@pytest.fixture
def client(settings: StackSettings) -> FlaskClient:
    return create_app(settings).test_client()


def post_run(client: FlaskClient, body: Any, token: str | None = TOKEN) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/runs", json=body, headers=headers)


def test_the_catalogue_shows_every_scenario_and_hides_the_guides_during_a_drill(
    client: FlaskClient, settings: StackSettings, tmp_path: Path
) -> None:
    page = client.get("/scenarios").get_data(as_text=True)
    for scenario in CATALOGUE.values():
        assert f'id="scenario-{scenario.name}"' in page and scenario.difficulty in page
    deadlock = CATALOGUE["deadlock"]
    assert deadlock.guide.root_cause[:40] in page.replace("&#39;", "'")
    listed = client.get("/api/scenarios").get_json()
    assert [s["name"] for s in listed["scenarios"]] == list(CATALOGUE)
    assert (
        listed["scenarios"][0]["guide"]["fix"]
        == CATALOGUE[listed["scenarios"][0]["name"]].guide.fix
    )

    # A drill in progress (its supervisor: this process): titles only, no guide, no page text.
    now = time.time()
    save(settings, DrillState(id="d", seed=3, started_at=now, status="running",
                              supervisor_pid=os.getpid(), report_dir=str(settings.state_path)))  # fmt: skip
    page = client.get("/scenarios").get_data(as_text=True)
    assert 'id="catalogue-hidden"' in page
    assert deadlock.guide.root_cause[:40] not in page.replace("&#39;", "'")
    assert deadlock.page[:40] not in page.replace("&#39;", "'")
    (tmp_path / "r1").mkdir()
    write_run(settings, tmp_path / "r1", run_id="past", ended=True)
    for address in ("/runs/past/report/", "/runs/past/report/journal.json"):
        refused = client.get(address)
        assert refused.status_code == 409, address
        assert b"hidden while a drill runs" in refused.data
    with client.get("/runs/past/report/deadlock-01-panel.png") as picture:
        assert picture.status_code == 200
    hidden = client.get("/api/scenarios").get_json()
    assert hidden["drill_running"] is True
    assert all(set(s) == {"name", "title", "difficulty"} for s in hidden["scenarios"])
    refused = post_run(client, {"scenario": "deadlock"})
    assert refused.status_code == 409 and "a drill is running" in refused.get_json()["error"]


def test_a_run_is_listed_followed_and_its_report_served(
    client: FlaskClient, settings: StackSettings, tmp_path: Path
) -> None:
    (tmp_path / "r1").mkdir()
    write_run(settings, tmp_path / "r1", run_id="deadlock-1", ended=True)
    runs = client.get("/api/runs").get_json()
    assert runs["running"] is None
    assert runs["runs"][0] == {
        "id": "deadlock-1", "scenario": "deadlock", "mode": "default", "started_at": T,
        "ended_at": T + 30, "phase": "inject", "verdict": "as expected", "exit_code": 0,
        "stopped": False,
    }  # fmt: skip
    run = client.get("/api/runs/deadlock-1").get_json()
    assert [p["name"] for p in run["journal"]["phases"]] == ["preflight", "baseline", "inject"]
    assert "definition" not in run["journal"]
    assert run["fault_window"] == {"from": T + 6.0, "to": T + 16.0, "label": "fault"}
    assert [(m["at"], m["phase"]) for m in run["marks"]] == [
        (T, "preflight"),
        (T + 1.0, "baseline"),
        (T + 6.0, "inject"),
    ]
    assert run["report"] == "/runs/deadlock-1/report/"

    page = client.get("/runs/deadlock-1").get_data(as_text=True)
    # A finished run's page opens on its span (30 s either side), not on "live".
    assert f'data-from="{T - 30}"' in page and f'data-to="{T + 60}"' in page
    board = client.get("/api/runs/deadlock-1/board").get_json()
    assert [p["title"] for p in board["panels"]] == [
        s.title for s in CATALOGUE["deadlock"].key_series
    ]

    report = client.get("/runs/deadlock-1/report/").get_data(as_text=True)
    assert "<table>" in report and 'src="deadlock-01-panel.png"' in report
    assert "<script>x</script>" not in report  # raw HTML in the Markdown stays text
    with client.get("/runs/deadlock-1/report/deadlock-01-panel.png") as picture:
        assert picture.data.startswith(b"\x89PNG")
    assert client.get("/runs/deadlock-1/report/..%2Fstate%2Fadmin-token").status_code == 404
    assert client.get("/runs/deadlock-1/report/admin-token").status_code == 404
    missing = client.get("/api/runs/nope")
    assert missing.status_code == 404 and "no run 'nope'" in missing.get_json()["error"]


def test_the_dashboards_mark_the_phases_of_runs_in_their_range(
    settings: StackSettings, tmp_path: Path
) -> None:
    (tmp_path / "r1").mkdir()
    write_run(settings, tmp_path / "r1", run_id="deadlock-1", ended=True)
    marks = phase_marks(settings, T + 0.5, T + 100)
    assert [(m["phase"], m["label"]) for m in marks] == [
        ("baseline", "deadlock (default): baseline"),
        ("inject", "deadlock (default): inject"),
    ]
    assert phase_marks(settings, T + 100, T + 200) == []


def test_starting_a_run_needs_the_token_a_known_scenario_and_no_run_in_progress(
    client: FlaskClient, settings: StackSettings, tmp_path: Path
) -> None:
    assert post_run(client, {"scenario": "deadlock"}, token=None).status_code == 401
    wrong = post_run(client, {"scenario": "deadlock"}, token="wrong")
    assert wrong.status_code == 401 and "admin token" in wrong.get_json()["error"]
    assert post_run(client, ["deadlock"]).status_code == 400
    assert post_run(client, {"scenario": "deadlock", "fixed": "yes"}).status_code == 400
    unknown = post_run(client, {"scenario": "no-such-thing"})
    assert (
        unknown.status_code == 404 and "no scenario 'no-such-thing'" in unknown.get_json()["error"]
    )

    # A run whose journal has not ended and whose process lives (this one) is in progress.
    (tmp_path / "r2").mkdir()
    write_run(settings, tmp_path / "r2", run_id="deadlock-2", ended=False, pid=os.getpid())
    assert client.get("/api/runs").get_json()["running"] == "deadlock-2"
    busy = post_run(client, {"scenario": "deadlock"})
    assert busy.status_code == 409 and "deadlock-2 (pid" in busy.get_json()["error"]
    with pytest.raises(RunInProgressError, match=r"no drill starts now: the run deadlock-2 \(pid"):
        refuse_if_running(settings, "no drill starts now")
    assert client.get("/api/runs/deadlock-2").get_json()["report"] is None


def test_the_index_skips_runs_whose_journal_is_gone_and_lines_cut_short(
    settings: StackSettings, tmp_path: Path
) -> None:
    (tmp_path / "r1").mkdir()
    write_run(settings, tmp_path / "r1", run_id="gone", ended=True)
    (tmp_path / "r1" / "journal.json").unlink()
    (tmp_path / "r2").mkdir()
    write_run(settings, tmp_path / "r2", run_id="kept", ended=True)
    with (settings.state_path / "runs.jsonl").open("a") as index:
        index.write('{"id": "cut", "scen')
    assert [run.id for run in recent_runs(settings)] == ["kept"]
    # The next run's line starts on a line of its own: only the cut one is lost.
    (tmp_path / "r3").mkdir()
    write_run(settings, tmp_path / "r3", run_id="after", ended=True)
    assert [run.id for run in recent_runs(settings)] == ["after", "kept"]


def test_a_killed_run_shows_as_stopped_and_a_reused_pid_is_not_the_run(
    client: FlaskClient, settings: StackSettings, tmp_path: Path
) -> None:
    (tmp_path / "r1").mkdir()
    write_run(settings, tmp_path / "r1", run_id="killed", ended=False, pid=2**22 + 1)
    (tmp_path / "r2").mkdir()
    write_run(settings, tmp_path / "r2", run_id="reused", ended=False, pid=os.getpid(),
              pid_started=this_process_started() - 3600)  # fmt: skip
    listed = {run["id"]: run["stopped"] for run in client.get("/api/runs").get_json()["runs"]}
    assert listed == {"killed": True, "reused": True}
    assert running_run(settings) is None
    refuse_if_running(settings, "nothing")  # no run in progress: no refusal
