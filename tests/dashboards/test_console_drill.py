"""The console's drill page and API on a state folder written by the test: no stack, no supervisor.

The drill's state file is written here as the supervisor would leave it; its
supervisor_pid is this test's own process, alive, so that the drill counts as
in progress. Nothing starts the stack: `Stack.up` fails the test if called.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

import chaos.drill.session
from chaos.console.app import create_app
from chaos.drill import session
from chaos.drill.state import DrillState, load_current, save
from chaos.scenarios.catalogue import load_catalogue
from chaos.scenarios.model import COMPONENTS
from chaos.settings import StackSettings, load_stack_settings
from chaos.stack.manager import Stack

TOKEN = "drill-test-token"
#: With scenario_from=["deadlock"], seed 2 draws the deadlock (not a control).
SEED = 2
HIDDEN = "deadlock"
ACTIONS = ("start", "hint", "answer", "deploy-fix", "end", "give-up")


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StackSettings:
    monkeypatch.delenv("FAULTYARD_ADMIN_TOKEN", raising=False)
    (tmp_path / "admin-token").write_text(TOKEN + "\n")

    def no_stack(self: Stack) -> None:
        raise AssertionError("the drill page's tests must not start the stack")

    monkeypatch.setattr(Stack, "up", no_stack)
    return load_stack_settings(state_dir=tmp_path)


@pytest.fixture
def client(settings: StackSettings) -> FlaskClient:
    return create_app(settings).test_client()


def write_drill(settings: StackSettings, **changes: Any) -> DrillState:
    """Write a running drill that paged a minute ago; `changes` override its fields."""
    now = time.time()
    fields: dict[str, Any] = {
        "id": "20261206-233320",
        "seed": SEED,
        "scenario_from": [HIDDEN],
        "started_at": now - 120,
        "status": "running",
        "supervisor_pid": os.getpid(),
        "injected_at": now - 60,
        "report_dir": str(settings.state_path / "reports" / "drill-20261206-233320"),
    }
    state = DrillState(**{**fields, **changes})
    save(settings, state)
    return state


def current(settings: StackSettings) -> DrillState:
    state = load_current(settings)
    assert state is not None
    return state


def post(client: FlaskClient, action: str, body: Any = None, token: str | None = TOKEN) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(f"/api/drill/{action}", json=body, headers=headers)


def refused(answer: Any, status: int) -> str:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.is_json, answer.get_data(as_text=True)
    return str(answer.json["error"])


def test_the_plan_is_the_hidden_fault() -> None:
    plan = DrillState(id="x", seed=SEED, scenario_from=[HIDDEN], started_at=0.0).plan()
    assert (plan.scenario, plan.control) == (HIDDEN, False)


def test_the_page_and_the_status_never_name_the_hidden_fault(
    client: FlaskClient, settings: StackSettings
) -> None:
    state = write_drill(settings)
    page = client.get("/drill")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for element in ("drill-status", "drill-page", "drill-clock", "hint-button", "answer-form",
                    "answer-submit", "grade", "admin-token", "start-button", "end-button",
                    "give-up-button", "deploy-fix-button", "drill-error"):  # fmt: skip
        assert f'id="{element}"' in html, element
    assert 'href="/drill"' in html and ">Drill</a>" in html  # the nav's link, current
    assert "/d/overview" in html  # the dashboards' links stay
    assert "/static/drill.js" in html
    assert settings.prometheus_url in html and settings.rq_dashboard_url in html
    scenario = load_catalogue()[HIDDEN]
    assert HIDDEN not in html.lower() and scenario.title not in html

    got = client.get("/api/drill")
    assert got.status_code == 200
    text = got.get_data(as_text=True)
    assert HIDDEN not in text.lower() and scenario.title not in text
    assert scenario.answer.root_cause not in text
    data = got.json
    drill = data["drill"]
    assert (drill["id"], drill["status"], drill["hints_used"]) == (state.id, "running", 0)
    assert drill["page"] == scenario.page
    assert drill["root_cause_choices"] == session.choices(state)
    assert sorted(drill["root_cause_choices"]) == sorted(scenario.answer.choices)
    assert "grade" not in drill and "report" not in drill
    assert data["components"] == list(COMPONENTS)
    assert data["difficulties"] == ["easy", "medium", "hard"]
    assert (data["max_hints"], data["supervisor_alive"], data["failure"]) == (3, True, None)
    clock = data["clock"]
    assert clock["started_at"] == state.started_at and clock["paged_at"] == state.injected_at
    assert clock["ended_at"] is None and abs(clock["now"] - time.time()) < 5


def test_before_the_page_the_pager_is_quiet(client: FlaskClient, settings: StackSettings) -> None:
    write_drill(settings, injected_at=None, supervisor_pid=None)
    data = client.get("/api/drill").json
    drill = data["drill"]
    assert (drill["page"], drill["paged_at"]) == (None, None)
    assert "root_cause_choices" not in drill
    assert data["supervisor_alive"] is False and data["clock"]["paged_at"] is None
    assert (
        refused(post(client, "hint"), 409) == "no page yet: wait for it (`faultyard drill status`)"
    )
    answer = post(client, "answer", {"something_wrong": True})
    assert refused(answer, 409).startswith("no page yet")
    assert current(settings).answers == {} and current(settings).hints_used == 0


def test_every_action_needs_the_admin_token(client: FlaskClient, settings: StackSettings) -> None:
    write_drill(settings)
    for action in ACTIONS:
        assert "needs the admin token" in refused(post(client, action, token=None), 401)
        assert "needs the admin token" in refused(post(client, action, token="wrong"), 401)
        elsewhere = client.post(
            f"/api/drill/{action}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            environ_base={"REMOTE_ADDR": "192.0.2.7"},
        )
        assert refused(elsewhere, 403) == "the console's actions answer loopback callers only"
    state = current(settings)
    assert (state.status, state.hints_used, state.answers) == ("running", 0, {})


def test_hints_come_in_order_and_are_counted(client: FlaskClient, settings: StackSettings) -> None:
    write_drill(settings)
    guide = load_catalogue()[HIDDEN].guide
    expected = [guide.where_to_look[0], guide.what_you_will_see[0], guide.where_to_look[-1]]
    for number, text in enumerate(expected, 1):
        answer = post(client, "hint")
        assert answer.status_code == 200, answer.json
        assert answer.json == {"hint": number, "text": text}
        assert current(settings).hints_used == number
        seen = client.get("/api/drill").json
        # Taken here or anywhere else (another tab, the CLI): the page shows them all again.
        assert (seen["drill"]["hints_used"], seen["hints"]) == (number, expected[:number])
    assert refused(post(client, "hint"), 409) == "all 3 hints are used"
    assert current(settings).hints_used == 3


def test_malformed_answers_are_400_and_say_why(
    client: FlaskClient, settings: StackSettings
) -> None:
    write_drill(settings)
    known = ", ".join(COMPONENTS)
    cases = [
        ({"component": "kitchen"}, f"unknown component 'kitchen'; known: {known}"),
        ({"something_wrong": "yes"}, "something_wrong is true or false, or null"),
        ({"cause_choice": True}, "cause_choice is a whole number (the choice, from 1), or null"),
        ({"cause_choice": "2"}, "cause_choice is a whole number (the choice, from 1), or null"),
        ({"cause_text": 7}, "cause_text is a text, or null"),
        (
            {"why": "x"},
            "unknown field why; known: cause_choice, cause_text, component, something_wrong",
        ),
        ([1, 2], "the body is a JSON object (Content-Type: application/json)"),
    ]
    for body, message in cases:
        assert refused(post(client, "answer", body), 400) == message
    assert refused(post(client, "answer", {"cause_choice": 9}), 409) == (
        "cause choice: choose 1 to 4"
    )
    assert refused(post(client, "answer", {}), 409) == "no answer given"
    assert current(settings).answers == {}


def test_an_answer_is_recorded(client: FlaskClient, settings: StackSettings) -> None:
    state = write_drill(settings)
    choices = session.choices(state)
    body = {"something_wrong": True, "component": "shop", "cause_choice": 2, "cause_text": " "}
    answer = post(client, "answer", body)
    assert answer.status_code == 200, answer.json
    given = {"something_wrong": True, "component": "shop", "root_cause_choice": choices[1]}
    assert answer.json["answers"] == given and answer.json["status"] == "running"
    saved = current(settings)
    assert saved.answers == given
    assert set(saved.answered_at) == {"detection", "localisation", "root_cause"}


def test_nothing_is_wrong_ends_the_drill_with_its_grade(
    client: FlaskClient, settings: StackSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_drill(settings)
    grade = {"total": 0, "max_total": 100, "hint_penalty": 0, "scenario": HIDDEN,
             "levels": [{"level": "detection", "points": 0, "max_points": 20,
                         "why": "missed: something was wrong"}]}  # fmt: skip

    def graded_by_the_supervisor(given: StackSettings) -> DrillState:
        state = current(given)
        assert state.status == "ended"  # the answer ended it before the wait
        state.grade = grade
        save(given, state)
        return state

    monkeypatch.setattr(chaos.drill.session, "wait_for_grade", graded_by_the_supervisor)
    answer = post(client, "answer", {"something_wrong": False})
    assert answer.status_code == 200, answer.json
    assert (answer.json["status"], answer.json["grade"]) == ("ended", grade)
    assert answer.json["report"] == f"{current(settings).report_dir}/report.md"
    # Over: the fault may be named now, and nothing more can be done to it.
    data = client.get("/api/drill").json
    assert data["drill"]["grade"]["scenario"] == HIDDEN and data["clock"]["ended_at"]
    assert refused(post(client, "end"), 409).startswith("no drill is running")
    assert refused(post(client, "hint"), 409).startswith("no drill is running")


def test_without_a_drill_the_actions_are_409(client: FlaskClient) -> None:
    data = client.get("/api/drill").json
    assert (data["drill"], data["supervisor_alive"], data["clock"]) == (None, False, None)
    assert client.get("/drill").status_code == 200
    answer = post(client, "answer", {"something_wrong": True, "cause_choice": 1})
    assert refused(answer, 409) == "no drill is running: start one"
    assert refused(post(client, "hint"), 409).startswith("no drill has been started here")
    assert refused(post(client, "deploy-fix"), 409).startswith("no drill has been started here")
    assert refused(post(client, "give-up"), 409).startswith("no drill has been started here")


def test_start_checks_its_body_and_refuses_a_second_drill(
    client: FlaskClient, settings: StackSettings
) -> None:
    write_drill(settings)
    assert refused(post(client, "start", {"difficulty": "brutal"}), 400) == (
        "unknown difficulty 'brutal'; known: easy, medium, hard"
    )
    assert refused(post(client, "start", {"seed": "7"}), 400) == "seed is a whole number, or null"
    assert refused(post(client, "start", {"seed": 1.5}), 400) == "seed is a whole number, or null"
    assert refused(post(client, "start", {"level": 1}), 400).startswith("unknown field level")
    quiet = "quiet_delay_s is [MIN, MAX] seconds, 0 <= MIN <= MAX <= 600"
    for delay in ([5], [30, 10], [-1, 5], [1, 601], [None, None], ["1", "2"], [True, 2]):
        assert refused(post(client, "start", {"quiet_delay_s": delay}), 400) == quiet, delay
    assert refused(post(client, "start", {"scenario_from": ["deadlock", "nope"]}), 400).startswith(
        "unknown scenario 'nope'; known: "
    )
    assert refused(post(client, "start", {"scenario_from": "deadlock"}), 400) == (
        "scenario_from is a list of scenario names, or null"
    )
    # The running drill is in progress (its supervisor alive): refused before the stack is touched.
    second = post(client, "start", {"difficulty": "medium", "seed": 7})
    assert refused(second, 409) == "a drill is already running: `faultyard drill status`"
    assert json.loads((settings.state_path / "drill" / "current.json").read_text())["seed"] == SEED
