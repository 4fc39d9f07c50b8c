"""Whole drills through `faultyard mcp`, driven by scripted MCP clients: graded as a person's."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from chaos.drill.state import in_progress
from chaos.scenarios.catalogue import load_catalogue
from chaos.scenarios.model import COMPONENTS
from chaos.stack.manager import Stack
from tests.conftest import faultyard
from tests.drill.test_drill_flow import seed_for
from tests.drill.test_drill_hiding import secrets_of
from tests.scenarios.test_runner import faults_on

pytestmark = pytest.mark.slow

CATALOGUE = load_catalogue()
SCENARIO = "slow-query"  # its fix verifies fast
TOOLS = {
    "drill_start", "drill_status", "drill_hint", "drill_answer", "drill_deploy_fix", "drill_end",
    "drill_give_up", "prometheus_query", "prometheus_query_range", "logs", "slowest_traces",
    "faultyard", "change_setting", "reload_service",
}  # fmt: skip
CALL_TIMEOUT_S = 240.0


@pytest.fixture(autouse=True)
def no_drill_left(stack: Stack, cli_env: dict[str, str]) -> Iterator[None]:
    """Give up a drill that a failed test left running (its supervisor outlives the test)."""
    yield
    if in_progress(stack.settings) is not None:
        faultyard(cli_env, "drill", "give-up", timeout_s=240)


class Agent:
    """A scripted agent: calls the server's tools and keeps every text it was given."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session
        self.seen: list[str] = []

    async def text(self, tool: str, **arguments: Any) -> str:
        result = await self.session.call_tool(tool, arguments, read_timeout_seconds=CALL_TIMEOUT_S)
        text = "\n".join(getattr(c, "text", "") for c in result.content)
        self.seen.append(text)
        assert not result.is_error, f"{tool}({arguments}): {text}"
        return text

    async def data(self, tool: str, **arguments: Any) -> Any:
        return json.loads(await self.text(tool, **arguments))

    async def refused(self, tool: str, **arguments: Any) -> str:
        result = await self.session.call_tool(tool, arguments, read_timeout_seconds=CALL_TIMEOUT_S)
        text = "\n".join(getattr(c, "text", "") for c in result.content)
        self.seen.append(text)
        assert result.is_error, f"{tool}({arguments}) was not refused: {text}"
        return text

    async def until(
        self, tool: str, done: Callable[[Any], bool], what: str, timeout_s: float
    ) -> Any:
        """Call a tool until its answer is `done`; fail naming `what` after the timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            answer = await self.data(tool)
            if done(answer):
                return answer
            await anyio.sleep(0.5)
        pytest.fail(f"gave up waiting for {what} after {timeout_s:.0f}s")


@asynccontextmanager
async def connected(env: dict[str, str], report_dir: Path) -> AsyncIterator[Agent]:
    """Start `faultyard mcp` as an MCP client would (stdio) and connect an agent to it."""
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "chaos", "mcp", "--report-dir", str(report_dir)],
        env=env,
    )
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield Agent(session)


def drive(
    env: dict[str, str], report_dir: Path, script: Callable[[Agent], Awaitable[None]]
) -> None:
    async def run() -> None:
        async with connected(env, report_dir) as agent:
            await script(agent)

    try:
        anyio.run(run)
    except BaseExceptionGroup as group:  # the task groups wrap what the script raised
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        raise error from None


async def start(agent: Agent, *, control: bool) -> dict[str, Any]:
    seed = seed_for([SCENARIO], control=control)
    return await agent.data("drill_start", seed=seed, scenario_from=[SCENARIO],
                            quiet_delay_min_s=1, quiet_delay_max_s=1)  # fmt: skip


def leaked(texts: list[str], secrets: set[str]) -> list[str]:
    return sorted(s for s in secrets if any(s in text for text in texts))


def test_the_tools_are_a_persons_and_name_no_scenario(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    every_secret = set().union(*(secrets_of(name) for name in CATALOGUE))

    async def script(agent: Agent) -> None:
        listed = (await agent.session.list_tools()).tools
        assert {tool.name for tool in listed} == TOOLS
        assert all(tool.description for tool in listed)
        text = json.dumps([tool.model_dump(mode="json") for tool in listed])
        assert leaked([text], every_secret) == []
        refused = await agent.refused("faultyard", command="switch lazy_order_history on")
        assert "not a command this server runs" in refused

    drive(cli_env, tmp_path, script)


def test_an_agent_answering_from_the_key_scores_as_a_person_would(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    scenario = CATALOGUE[SCENARIO]
    right = scenario.answer.choices[scenario.answer.correct_choice]

    async def script(agent: Agent) -> None:
        paged = await start(agent, control=False)
        assert paged["status"] == "running" and paged["page"] == scenario.page
        assert (await agent.data("drill_status"))["root_cause_choices"] == paged[
            "root_cause_choices"
        ]
        # Prometheus, instant and range.
        up = await agent.data("prometheus_query", expr='up{job="shop"}')
        assert [s["value"] for s in up["series"]] == [1.0]
        history = await agent.data(
            "prometheus_query_range", expr='up{job="shop"}', since="1m", step="5s"
        )
        points = history["series"][0]["points"]
        assert history["step_s"] == 5 and len(points) >= 2 and points[-1][1] == 1.0
        assert "points a series at most" in await agent.refused(
            "prometheus_query_range", expr="up", since="6h", step="1s"
        )
        # Logs, traces and the read-only commands, run as a person runs them.
        logs = await agent.text("logs", service="app", lines=5)
        assert logs.startswith("$ faultyard logs app -n 5") and logs.endswith("(exit 0)")
        errors = await agent.text("logs", service="app", level="ERROR", lines=20)
        assert errors.startswith("$ faultyard logs app -n 5000") and "(exit 0)" in errors
        assert all('"level":"INFO"' not in line for line in errors.splitlines())
        traces = await _traces(agent)
        assert traces.startswith("$ faultyard traces --slowest 3") and "START ms" in traces
        status = await agent.text("faultyard", command="status")
        assert "hidden while a drill runs" in status
        switches = await agent.text("faultyard", command="switch list")
        assert "while a drill runs" in switches and "(exit 1)" in switches
        # A hint, the answer key's answers, the fix.
        hint = await agent.data("drill_hint")
        assert hint == {"hint": 1, "text": scenario.guide.where_to_look[0]}
        number = paged["root_cause_choices"].index(right) + 1
        answered = await agent.data("drill_answer", something_wrong=True,
                                    component=scenario.answer.component, cause_choice=number)  # fmt: skip
        assert answered["status"] == "running" and answered["answers"]["root_cause_choice"] == right
        fixing = await agent.data("drill_deploy_fix")
        assert fixing["status"] == "running"
        assert leaked(agent.seen, secrets_of(SCENARIO)) == []  # nothing named it while it ran
        # Ended before the fix could be verified (the CLI's drill test waits for that: the
        # same session code grades both): detection, localisation and cause, one hint.
        ended = await agent.data("drill_end")
        grade = ended["grade"]
        assert (grade["total"], grade["max_total"], grade["scenario"]) == (65, 100, SCENARIO)
        assert [level["points"] for level in grade["levels"]] == [20, 20, 30, 0]
        report = Path(ended["report"]).read_text()
        assert "**65 / 100**" in report and "hint 1 taken" in report
        assert "asked to deploy the fix" in report
        assert "ran: faultyard logs app -n 5" in report and "ran: faultyard status" in report
        assert "no drill is running" in await agent.refused("drill_hint")

    drive(cli_env, tmp_path, script)
    assert faults_on(stack) == []


async def _traces(agent: Agent) -> str:
    """Return the slowest traces once the shoppers' first order history has been traced."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = await agent.text("slowest_traces", count=3, route="order")
        if "\ntrace " in text:
            return text
        await anyio.sleep(0.5)
    pytest.fail("gave up waiting for an order history trace after 30s")


def test_an_agent_answering_wrongly_gets_the_low_grade(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    key = CATALOGUE[SCENARIO].answer
    elsewhere = next(
        c for c in COMPONENTS if c != key.component and c not in key.related_components
    )
    wrong = next(c for c in key.choices if c != key.choices[key.correct_choice])

    async def script(agent: Agent) -> None:
        paged = await start(agent, control=False)
        number = paged["root_cause_choices"].index(wrong) + 1
        await agent.data("drill_answer", something_wrong=True, component=elsewhere,
                         cause_choice=number)  # fmt: skip
        assert "choose 1 to 4" in await agent.refused("drill_answer", cause_choice=9)
        # A remedy the answer key does not accept: on the timeline, and no mitigation.
        remedy = await agent.text("change_setting", name="catalog_cache_ttl_s", value="5")
        assert "catalog_cache_ttl_s" in remedy and remedy.endswith("(exit 0)")
        ended = await agent.data("drill_end")
        grade = ended["grade"]
        assert [level["points"] for level in grade["levels"]] == [20, 0, 0, 0]
        assert grade["total"] == 20 and grade["scenario"] == SCENARIO
        report = Path(ended["report"]).read_text()
        assert "ran: faultyard setting catalog_cache_ttl_s 5" in report

    drive(cli_env, tmp_path, script)
    assert faults_on(stack) == []


def test_an_agent_crying_wolf_on_a_control_scores_nothing(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    async def script(agent: Agent) -> None:
        paged = await start(agent, control=True)
        assert paged["page"] and faults_on(stack) == []  # a page, and nothing injected
        await agent.data("drill_answer", something_wrong=True, component="database")
        grade = (await agent.data("drill_end"))["grade"]
        assert grade["total"] == 0 and grade["false_alarm"] and grade["scenario"] is None

    drive(cli_env, tmp_path, script)
