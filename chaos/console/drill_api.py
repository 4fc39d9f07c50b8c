"""The console's drill page: the drill `faultyard drill` runs, in a browser.

GET /drill is the page, GET /api/drill what the person may see of the drill
(chaos.drill.view: never the hidden fault's name while it runs). The actions
(start, hint, answer, deploy-fix, end, give-up) do what the CLI's commands do,
through chaos.drill.session, and need the admin token (chaos.console.auth).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, render_template, request

from chaos.console.auth import require_admin
from chaos.console.run_launcher import reports_root, starting
from chaos.dashboards.model import dashboard_names, load_dashboard
from chaos.drill.grading import HINT_COST
from chaos.drill.picker import DIFFICULTIES, QUIET_DELAY_S, DrillPlanError
from chaos.drill.state import DrillError, DrillState, load_current, supervisor_alive
from chaos.errors import FaultyardError
from chaos.scenarios.model import COMPONENTS
from chaos.settings import StackSettings

START_FIELDS = {"difficulty", "seed", "scenario_from", "quiet_delay_s"}
#: The longest quiet before the page a start may ask for.
MAX_QUIET_S = 600.0
ANSWER_FIELDS = {"something_wrong", "component", "cause_choice", "cause_text"}

drill_pages = Blueprint("drill_pages", __name__)

# chaos.drill.session (and chaos.drill.view, which uses it) loads the stack's manager,
# whose health checks load psycopg, redis and rq: imported in the views that need it,
# so that the console starts without them.


@drill_pages.errorhandler(DrillError)
def drill_refused(exc: DrillError) -> Any:
    """A drill action that cannot be done now (no drill, no page yet, ...): 409."""
    return jsonify({"error": str(exc)}), 409


@drill_pages.errorhandler(DrillPlanError)
def plan_refused(exc: DrillPlanError) -> Any:
    """Filters that leave no scenario to draw from: 400."""
    return jsonify({"error": str(exc)}), 400


@drill_pages.errorhandler(FaultyardError)
def stack_failed(exc: FaultyardError) -> Any:
    """Anything else Faultyard reports (the stack would not start, ...): 500, with why."""
    return jsonify({"error": str(exc)}), 500


def _settings() -> StackSettings:
    settings: StackSettings = current_app.config["STACK"]
    return settings


def _public(state: DrillState) -> dict[str, Any]:
    from chaos.drill.view import public

    return public(state)


@drill_pages.get("/drill")
def drill_page() -> str:
    settings = _settings()
    boards = [load_dashboard(name) for name in dashboard_names()]
    return render_template(
        "drill.html",
        boards=boards,
        difficulties=DIFFICULTIES,
        components=COMPONENTS,
        hint_cost=HINT_COST,
        quiet_delay=QUIET_DELAY_S,
        prometheus_url=settings.prometheus_url,
        rq_dashboard_url=settings.rq_dashboard_url,
    )


def _clock(state: DrillState) -> dict[str, float | None]:
    """The drill's moments in Unix seconds, and the server's now (the page's clock runs on it)."""
    return {
        "now": time.time(),
        "started_at": state.started_at,
        "paged_at": state.injected_at,
        "ended_at": state.ended_at,
    }


@drill_pages.get("/api/drill")
def drill_status() -> Any:
    """The current (or last) drill as the person may see it, and what an answer may say."""
    from chaos.drill import session

    state = load_current(_settings())
    return jsonify(
        {
            "drill": _public(state) if state is not None else None,
            "components": list(COMPONENTS),
            "difficulties": list(DIFFICULTIES),
            "max_hints": session.MAX_HINTS,
            "hints": session.hints_taken(state) if state is not None else [],
            "hint_cost": HINT_COST,
            "supervisor_alive": state is not None and supervisor_alive(state),
            "clock": _clock(state) if state is not None else None,
            # Why a drill failed, once it is over (while it runs, nothing that could name it).
            "failure": state.error if state is not None and not state.running else None,
        }
    )


def _body(allowed: set[str]) -> dict[str, Any]:
    """Return the request's JSON object (none: empty); 400 for anything else or unknown fields."""
    if not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="the body is a JSON object (Content-Type: application/json)")
    unknown = sorted(set(body) - allowed)
    if unknown:
        abort(400, description=f"unknown field {', '.join(unknown)}; "
                               f"known: {', '.join(sorted(allowed))}")  # fmt: skip
    return body


def _optional(body: dict[str, Any], name: str, kind: type, what: str) -> Any:
    """Return a field of the body, None if absent or null; 400 if it is not of `kind`."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        abort(400, description=f"{name} is {what}, or null")
    return value


def _one_of(value: str | None, known: tuple[str, ...] | list[str], what: str) -> str | None:
    """Return the value if it is known (empty: None); 400 naming the known ones otherwise."""
    if not value:
        return None
    if value not in known:
        abort(400, description=f"unknown {what} {value!r}; known: {', '.join(known)}")
    return value


def _scenario_from(body: dict[str, Any]) -> list[str] | None:
    """Return the scenario names to draw from (null or empty: the whole catalogue)."""
    from chaos.scenarios.catalogue import load_catalogue

    names = _optional(body, "scenario_from", list, "a list of scenario names")
    if not names:
        return None
    known = sorted(load_catalogue())
    for name in names:
        _one_of(name if isinstance(name, str) else repr(name), known, "scenario")
    return list(names)


def _quiet_delay(body: dict[str, Any]) -> tuple[float, float]:
    """Return the quiet delay's range [MIN, MAX] seconds (default: the CLI's)."""
    value = _optional(body, "quiet_delay_s", list, f"[MIN, MAX] seconds (0 to {MAX_QUIET_S:g})")
    if value is None:
        return QUIET_DELAY_S
    numbers = [v for v in value if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(value) != 2 or len(numbers) != 2 or not 0 <= numbers[0] <= numbers[1] <= MAX_QUIET_S:
        abort(400, description=f"quiet_delay_s is [MIN, MAX] seconds, 0 <= MIN <= MAX <= "
                               f"{MAX_QUIET_S:g}")  # fmt: skip
    return float(numbers[0]), float(numbers[1])


@drill_pages.post("/api/drill/start")
@require_admin
def start_drill() -> Any:
    """Start a drill (the stack up, the supervisor running); the page comes later."""
    from chaos.drill import session
    from chaos.stack.manager import Stack

    body = _body(START_FIELDS)
    difficulty = _one_of(
        _optional(body, "difficulty", str, "a difficulty"), list(DIFFICULTIES), "difficulty"
    )
    seed = _optional(body, "seed", int, "a whole number")
    scenario_from, quiet_delay_s = _scenario_from(body), _quiet_delay(body)
    with starting(_settings()):  # not while a run from this console is getting listed
        state = session.start(
            Stack(_settings()),
            seed=seed,
            difficulty=difficulty,  # type: ignore[arg-type]
            scenario_from=scenario_from,
            quiet_delay_s=quiet_delay_s,
            report_root=reports_root(),
        )
    return jsonify(_public(state))


@drill_pages.post("/api/drill/hint")
@require_admin
def take_hint() -> Any:
    """Take the next hint: where to look, then what you should see, then closer to the cause."""
    from chaos.drill import session

    number, text = session.hint(_settings())
    return jsonify({"hint": number, "text": text})


@drill_pages.post("/api/drill/answer")
@require_admin
def answer_drill() -> Any:
    """Answer: is something wrong, where, why. "Nothing is wrong" ends the drill: the grade."""
    from chaos.drill import session

    body = _body(ANSWER_FIELDS)
    something_wrong = _optional(body, "something_wrong", bool, "true or false")
    component = _one_of(_optional(body, "component", str, "a component"), COMPONENTS, "component")
    cause_choice = _optional(body, "cause_choice", int, "a whole number (the choice, from 1)")
    cause_text = _optional(body, "cause_text", str, "a text")
    settings = _settings()
    state = load_current(settings)
    if state is None or not state.running:
        raise DrillError("no drill is running: start one")
    given = session.given_answers(
        session.choices(state),
        something_wrong=something_wrong,
        component=component,
        cause_choice=cause_choice,
        cause_text=(cause_text or "").strip() or None,
    )
    state = session.answer(settings, given)
    if not state.running:
        state = session.wait_for_grade(settings)
    return jsonify(_public(state))


@drill_pages.post("/api/drill/deploy-fix")
@require_admin
def deploy_fix() -> Any:
    """Deploy the fixed code path (once the root cause is answered)."""
    from chaos.drill import session

    return jsonify(_public(session.deploy_fix(_settings())))


@drill_pages.post("/api/drill/end")
@require_admin
def end_drill() -> Any:
    """End the drill now and wait for its grade."""
    from chaos.drill import session

    return jsonify(_public(session.end(_settings(), give_up=False)))


@drill_pages.post("/api/drill/give-up")
@require_admin
def give_up() -> Any:
    """Give up: the fault is revealed and rolled back; nothing scores."""
    from chaos.drill import session

    return jsonify(_public(session.end(_settings(), give_up=True)))
