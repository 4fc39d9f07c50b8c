"""The drill as an AI agent gets it: its actions, the `faultyard` commands, the remedies.

chaos.drill.mcp_server serves these (and chaos.drill.agent_observe's Prometheus,
logs and traces) over the Model Context Protocol. The drill's
own actions call chaos.drill.session, as `faultyard drill` does, and answer with
the same public view (chaos.drill.view); everything else a person would type
(`faultyard status`, `logs`, `traces`, `setting NAME VALUE`, `reload SERVICE`)
runs as that very command, so the drill's timeline records it and judges its
remedies as it does a person's. Nothing here knows the hidden scenario.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.cli.common import current_stack
from chaos.drill import session
from chaos.drill.picker import QUIET_DELAY_S, Difficulty
from chaos.drill.state import DrillError, load_current, supervisor_alive
from chaos.drill.view import public
from chaos.errors import FaultyardError
from chaos.scenarios.model import Component
from chaos.settings import StackSettings, load_stack_settings

COMMAND_TIMEOUT_S = 120.0
MAX_OUTPUT_CHARS = 40_000
#: The read-only `faultyard` commands the agent may run (a NAME follows `setting`).
READ_ONLY = ("status", "switch list", "setting", "setting NAME", "toxic list")


class ToolRefused(FaultyardError):
    """A tool call the server will not run as asked (bad arguments, a command not offered)."""


def run_faultyard(*args: str) -> str:
    """Run `faultyard ARGS` as a person would; return what it printed and its exit code."""
    result = subprocess.run(
        [sys.executable, "-m", "chaos", *args],
        stdin=subprocess.DEVNULL,  # the server's stdin carries the protocol
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        env=os.environ,
    )
    text = _clip(result.stdout + result.stderr).rstrip("\n")
    return f"$ faultyard {shlex.join(args)}\n{text}\n(exit {result.returncode})"


def _clip(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return (
        f"[... the first {len(text) - MAX_OUTPUT_CHARS} characters left out]\n"
        + text[-MAX_OUTPUT_CHARS:]
    )


@dataclass(frozen=True)
class DrillTools:
    """The drill's actions, for one operator's choice of where the debriefs go."""

    report_root: Path = Path("reports")

    @property
    def settings(self) -> StackSettings:
        return load_stack_settings()

    def start(
        self,
        seed: int | None = None,
        difficulty: Difficulty | None = None,
        scenario_from: list[str] | None = None,
        quiet_delay_min_s: float = QUIET_DELAY_S[0],
        quiet_delay_max_s: float = QUIET_DELAY_S[1],
        wait_for_page: bool = True,
    ) -> dict[str, Any]:
        """Start a drill: the stack comes up, shoppers start, and after a quiet while the pager
        goes off with a page. About one drill in six is a false alarm (nothing is wrong).
        With wait_for_page (the default) this returns the page; otherwise at once, and
        drill_status shows the page when it comes. The same seed gives the same drill."""
        if not 0 <= quiet_delay_min_s <= quiet_delay_max_s:
            raise ToolRefused("the quiet delay needs 0 <= quiet_delay_min_s <= quiet_delay_max_s")
        state = session.start(
            current_stack(verbose=False),
            seed=seed,
            difficulty=difficulty,
            scenario_from=scenario_from or None,
            quiet_delay_s=(quiet_delay_min_s, quiet_delay_max_s),
            report_root=self.report_root,
        )
        if wait_for_page:
            state = session.wait_for_page(self.settings, quiet_delay_max_s + session.PAGE_MARGIN_S)
        return public(state)

    def status(self) -> dict[str, Any]:
        """Read the page and the drill's state: status, seconds since the start, hints used,
        your answers so far, the root-cause choices to answer from, and once the drill
        has ended its grade and the debrief's path."""
        state = load_current(self.settings)
        if state is None:
            raise DrillError("no drill yet: drill_start starts one")
        if state.status == "running" and not supervisor_alive(state):
            raise DrillError("the drill's supervisor stopped before the drill ended: "
                             "`faultyard reset` undoes its fault; drill_start begins a new one")  # fmt: skip
        return public(state)

    def hint(self) -> dict[str, Any]:
        """Take a hint: first where to look, then what you should see, then closer to the
        cause. Each costs 5 points; three at most."""
        number, text = session.hint(self.settings)
        return {"hint": number, "text": text}

    def answer(
        self,
        something_wrong: bool | None = None,
        component: Component | None = None,
        cause_choice: int | None = None,
        cause_text: str | None = None,
    ) -> dict[str, Any]:
        """Answer, all at once or one level at a time: detection (something_wrong: false says
        the page was a false alarm and ends the drill), localisation (component: where the
        fault is), root cause (cause_choice: the number, from 1, of one of the status's
        root_cause_choices; or cause_text: the cause in your own words, which scores less).
        A later answer replaces an earlier one of the same level."""
        state = load_current(self.settings)
        options = session.choices(state) if state is not None and state.running else []
        given = session.given_answers(
            options, something_wrong=something_wrong, component=component,
            cause_choice=cause_choice, cause_text=cause_text,
        )  # fmt: skip
        state = session.answer(self.settings, given)
        if not state.running:
            state = session.wait_for_grade(self.settings)
        return public(state)

    def deploy_fix(self) -> dict[str, Any]:
        """Deploy the fixed code path for the cause you named (answer the root cause first).
        The drill then checks that every SLO holds again for 10 s and ends by itself:
        drill_status shows the grade when it has."""
        return public(session.deploy_fix(self.settings))

    def end(self) -> dict[str, Any]:
        """Finish the drill now and get the grade of what you answered (and mitigated)."""
        return public(session.end(self.settings, give_up=False))

    def give_up(self) -> dict[str, Any]:
        """Give up: the fault is revealed and rolled back; nothing scores."""
        return public(session.end(self.settings, give_up=True))


def faultyard_command(command: str) -> str:
    """Run a read-only `faultyard` command, as on a terminal: `status` (each service's health,
    Prometheus's scrape targets), `switch list`, `setting` or `setting NAME` (runtime
    settings), `toxic list`. During a drill the lab's machinery stays hidden, as it does
    for a person. Logs, traces and remedies have tools of their own."""
    try:
        words = shlex.split(command)
    except ValueError as exc:  # an unclosed quote
        raise ToolRefused(f"cannot read the command {command!r}: {exc}") from None
    words = words[1:] if words[:1] == ["faultyard"] else words
    shape = "setting NAME" if len(words) == 2 and words[0] == "setting" else " ".join(words)
    if shape not in READ_ONLY or words == ["setting", "reset"]:
        raise ToolRefused(f"not a command this server runs: {command!r}; it runs: "
                          + ", ".join(READ_ONLY))  # fmt: skip
    return run_faultyard(*words)


def reload_service(service: str) -> str:
    """Remedy: restart a service gracefully, as `faultyard reload SERVICE` (`app`: new
    gunicorn workers; the old ones finish their requests and leave)."""
    return run_faultyard("reload", service)


def change_setting(name: str, value: str) -> str:
    """Remedy: change one of the shop's runtime settings in every process, as `faultyard
    setting NAME VALUE` (VALUE `default` puts it back). `setting NAME` shows one."""
    return run_faultyard("setting", name, value)
