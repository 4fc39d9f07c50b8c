"""`faultyard drill`: practise on call — a hidden fault (or none), a page, a graded answer."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from chaos.cli.common import current_stack
from chaos.drill import session
from chaos.drill.picker import DIFFICULTIES, QUIET_DELAY_S
from chaos.drill.state import DrillState, history, load_current, supervisor_alive
from chaos.drill.view import public
from chaos.scenarios.model import COMPONENTS
from chaos.settings import load_stack_settings


def _emit(as_json: bool, data: dict[str, Any], lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        for line in lines:
            click.echo(line)


def _where(state: DrillState) -> list[str]:
    settings = load_stack_settings()
    return [
        f"  dashboards  {settings.console_url} (live; this drill: {settings.console_url}/drill); "
        "faultyard dashboard NAME (PNG); "
        f"Prometheus {settings.prometheus_url}",
        "  logs        faultyard logs [SERVICE] [--grep TEXT]",
        "  traces      faultyard traces --slowest 10",
        f"  rq jobs     {settings.rq_dashboard_url}",
    ]


def _page_lines(state: DrillState) -> list[str]:
    if state.injected_at is None:
        return ["The pager is quiet for now."]
    at = datetime.fromtimestamp(state.injected_at).strftime("%H:%M:%S")
    return [f"PAGE at {at}:", "", f"  {session.page_scenario(state).page}", "", *_where(state)]


def _grade_lines(state: DrillState) -> list[str]:
    grade = state.grade or {}
    lines = [f"Drill {state.id}: {grade.get('total')} / {grade.get('max_total')} points"]
    lines += [f"  {lvl['level']:<13} {lvl['points']:>3} / {lvl['max_points']:<3} {lvl['why']}"
              for lvl in grade.get("levels", [])]  # fmt: skip
    if grade.get("hint_penalty"):
        lines.append(f"  hints         -{grade['hint_penalty']}")
    it_was = grade.get("scenario") or "a quiet shift: nothing was injected"
    return [*lines, f"It was: {it_was}", f"Debrief: {state.report_dir}/report.md"]


@click.group()
def drill() -> None:
    """Practise on call: a hidden fault (or none), a page, and a graded answer.

    \b
    faultyard drill start     shoppers start, and after a quiet while the pager goes off
    faultyard drill status    the page, the clock, your answers so far
    faultyard drill hint      a hint (each costs 5 points; three at most)
    faultyard drill answer    is something wrong, where, why (asks, or takes options)
    faultyard drill deploy-fix  deploy the fixed code path, once you named the cause
    faultyard drill end       finish now and get the grade; `give-up` reveals it all
    faultyard drill history   past drills and their grades
    """


@drill.command()
@click.option("--seed", type=int, help="Draw this drill (the same seed gives the same drill).")
@click.option("--difficulty", type=click.Choice(list(DIFFICULTIES)), help="Only scenarios of it.")
@click.option("--scenario-from", help="Comma-separated scenario names to draw from.")
@click.option(
    "--quiet-delay",
    default=",".join(f"{s:g}" for s in QUIET_DELAY_S),
    show_default=True,
    help="Seconds of quiet before the page, drawn between MIN,MAX.",
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where the debrief folder drill-TIMESTAMP goes.",
)
@click.option("--no-wait", is_flag=True, help="Return at once instead of waiting for the page.")
@click.option("--json", "as_json", is_flag=True, help="Print the drill as JSON.")
def start(
    seed: int | None,
    difficulty: str | None,
    scenario_from: str | None,
    quiet_delay: str,
    report_dir: Path,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Start a drill: the stack up, shoppers on, and a page after a quiet while."""
    names = [n.strip() for n in scenario_from.split(",") if n.strip()] if scenario_from else None
    delay = _delay_range(quiet_delay)
    stack = current_stack(verbose=not as_json)
    state = session.start(
        stack,
        seed=seed,
        difficulty=difficulty,  # type: ignore[arg-type]
        scenario_from=names,
        quiet_delay_s=delay,
        report_root=report_dir,
    )
    if not as_json:
        click.echo(f"Drill {state.id} started: you are on call. Shoppers are on the shop.")
    if not no_wait:
        if not as_json:
            click.echo("Waiting for the pager (Ctrl-C stops waiting, not the drill) ...")
        try:
            state = session.wait_for_page(stack.settings, delay[1] + session.PAGE_MARGIN_S)
        except KeyboardInterrupt:
            click.echo("Stopped waiting; `faultyard drill status` shows the page when it comes.")
            return
    _emit(as_json, public(state), _page_lines(state))


def _delay_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise click.BadParameter(
            "say MIN,MAX in seconds, e.g. 20,90", param_hint="--quiet-delay"
        ) from None
    if not 0 <= low <= high:
        raise click.BadParameter("0 <= MIN <= MAX", param_hint="--quiet-delay")
    return low, high


@drill.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(as_json: bool) -> None:
    """Show the drill: the page, the clock, hints used, your answers so far."""
    state = load_current(load_stack_settings())
    if state is None:
        raise click.ClickException("no drill yet: `faultyard drill start`")
    if not state.running:
        _emit(as_json, public(state), _grade_lines(state) if state.grade else [state.status])
        return
    if state.status == "running" and not supervisor_alive(state):
        raise click.ClickException(
            "the drill's supervisor stopped before the drill ended: `faultyard reset` undoes "
            "its fault, and `faultyard drill start` begins a new drill"
        )
    lines = [f"Drill {state.id}: {state.elapsed_s():.0f} s, {state.hints_used} hints used",
             *_page_lines(state)]  # fmt: skip
    if state.answers:
        lines.append("Your answers: " + ", ".join(f"{k}={v!r}" for k, v in state.answers.items()))
    _emit(as_json, public(state), lines)


@drill.command()
@click.option("--json", "as_json", is_flag=True, help="Print the hint as JSON.")
def hint(as_json: bool) -> None:
    """Take a hint: where to look, then what you should see, then closer to the cause."""
    number, text = session.hint(load_stack_settings())
    _emit(as_json, {"hint": number, "text": text}, [f"Hint {number} (-5 points): {text}"])


@drill.command()
@click.option("--something-wrong/--all-quiet", default=None, help="Detection.")
@click.option("--component", type=click.Choice(COMPONENTS), help="Localisation: where it is.")
@click.option("--cause-choice", type=int, help="Root cause: the number of a choice (see status).")
@click.option("--cause", "cause_text", help="Root cause in your own words.")
@click.option("--json", "as_json", is_flag=True, help="Print the drill as JSON.")
def answer(
    something_wrong: bool | None,
    component: str | None,
    cause_choice: int | None,
    cause_text: str | None,
    as_json: bool,
) -> None:
    """Answer: is something wrong, where, and why. Without options, asks each in turn."""
    settings = load_stack_settings()
    state = load_current(settings)
    options = state is not None and state.running and session.choices(state)
    interactive = something_wrong is None and not (component or cause_choice or cause_text)
    if interactive:
        something_wrong = click.confirm("Is something wrong?")
        if something_wrong:
            component = click.prompt("Where is it?", type=click.Choice(COMPONENTS))
            for n, text in enumerate(options or [], 1):
                click.echo(f"  {n}. {text}")
            cause_choice = click.prompt("Which root cause (number)?", type=int)
            cause_text = click.prompt("In your own words (optional)", default="") or None
    given = session.given_answers(
        options or [], something_wrong=something_wrong, component=component,
        cause_choice=cause_choice, cause_text=cause_text,
    )  # fmt: skip
    state = session.answer(settings, given)
    if not state.running:
        state = session.wait_for_grade(settings)
        _emit(as_json, public(state), _grade_lines(state))
        return
    next_step = "Now mitigate: `faultyard drill deploy-fix`, or `faultyard drill end`."
    _emit(as_json, public(state), ["Answer recorded.", next_step])


@drill.command("deploy-fix")
@click.option("--json", "as_json", is_flag=True, help="Print the drill as JSON.")
def deploy_fix(as_json: bool) -> None:
    """Deploy the fixed code path; the drill checks the SLO holds again."""
    state = session.deploy_fix(load_stack_settings())
    lines = ["Deploying the fix; the drill checks that every SLO holds again for 10 s.",
             "`faultyard drill status` shows when it does; the drill then ends by itself."]  # fmt: skip
    _emit(as_json, public(state), lines)


@drill.command()
@click.option("--json", "as_json", is_flag=True, help="Print the grade as JSON.")
def end(as_json: bool) -> None:
    """Finish the drill now and get the grade."""
    state = session.end(load_stack_settings(), give_up=False)
    _emit(as_json, public(state), _grade_lines(state))


@drill.command("give-up")
@click.option("--json", "as_json", is_flag=True, help="Print the drill as JSON.")
def give_up(as_json: bool) -> None:
    """Give up: the fault is revealed and rolled back; nothing scores."""
    state = session.end(load_stack_settings(), give_up=True)
    _emit(as_json, public(state), _grade_lines(state))


@drill.command("history")
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
def history_command(as_json: bool) -> None:
    """List past drills with their grades."""
    past = history(load_stack_settings())
    rows = [{"id": s.id, "seed": s.seed, "status": s.status, **(s.grade or {})} for s in past]
    lines = [f"{r['id']}  seed {r['seed']:<11} {r.get('total', '-')!s:>3} / "
             f"{r.get('max_total', '-')!s:<3} {r.get('scenario') or 'control'}  ({r['status']})"
             for r in rows] or ["no drill has ended yet"]  # fmt: skip
    _emit(as_json, {"drills": rows}, lines)
