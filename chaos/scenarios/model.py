"""The scenario format: what one module in `scenarios/` declares, checked when it is built.

A scenario is plain data (frozen pydantic models): the faults to inject, the
load to run, the probes that must hold while the fault is on (symptoms) and
when it is fixed (SLO), the fix, a diagnosis guide, and the answer key a drill
grades against. It serialises to JSON (`scenario.model_dump(mode="json")`), so
a run's journal can embed the scenario it ran, and reads back with
`Scenario.model_validate(data)`.

The probes are in chaos/scenarios/probe_model.py (re-exported here).
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from chaos.errors import FaultyardError
from chaos.faults import (
    Deploy,
    Index,
    Pause,
    ProcessFault,
    ProxyDown,
    Reload,
    Setting,
    Switch,
    Toxic,
)
from chaos.faults.base import STACK_PROXIES
from chaos.scenarios.journeys import journeys as locust_journeys
from chaos.scenarios.probe_model import (
    Comparator,
    HTTPProbe,
    Probe,
    PromQLProbe,
    SQLProbe,
    check_promql,
    compare,
)

# Scenario modules import the whole format from here, the fault kinds and probes included.
__all__ = [
    "COMPONENTS",
    "NAME_PATTERN",
    "AnswerKey",
    "Comparator",
    "Component",
    "Deploy",
    "Fault",
    "FaultStep",
    "FixStep",
    "Frozen",
    "Guide",
    "HTTPProbe",
    "Index",
    "Link",
    "LoadProfile",
    "Pause",
    "Probe",
    "ProcessFault",
    "PromQLProbe",
    "ProxyDown",
    "Reload",
    "SQLProbe",
    "Scenario",
    "ScenarioError",
    "Series",
    "Setting",
    "Switch",
    "Toxic",
    "UnknownScenarioError",
    "compare",
]

#: A scenario name: lower case words joined by hyphens, e.g. `connection-leak`.
NAME_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"


class ScenarioError(FaultyardError):
    """A scenario module is missing, invalid or clashes with another."""


class UnknownScenarioError(ScenarioError):
    """A scenario name that is not in the catalogue."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown scenario {name!r}; known: {', '.join(known) or '(none)'}")
        self.name, self.known = name, known


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- faults


# A scenario's steps are the tool's fault kinds (chaos/faults/), told apart by `kind`.
FaultStep = Toxic | ProxyDown | Switch | Setting | ProcessFault | Deploy | Index | Pause


def _on_a_stack_proxy(fault: FaultStep) -> FaultStep:
    """Refuse a fault on a proxy the stack does not have."""
    proxy = getattr(fault, "proxy", None)
    if proxy is not None and proxy not in STACK_PROXIES:
        raise ValueError(
            f"no proxy {proxy!r} in the stack; its proxies: {', '.join(STACK_PROXIES)}"
        )
    return fault


Fault = Annotated[
    Annotated[FaultStep, Field(discriminator="kind")], AfterValidator(_on_a_stack_proxy)
]
FixStep = Annotated[Switch | Setting | Index, Field(discriminator="kind")]


# ---------------------------------------------------------------- the rest


class Series(Frozen):
    """A key series the live panel and the report plot (a range query, any number of series)."""

    title: str = Field(min_length=1)
    expr: str
    unit: Literal["s", "1/s", "count", "ratio", "bytes"] = "count"

    check_expr = field_validator("expr")(check_promql)


class LoadProfile(Frozen):
    """The shoppers Locust runs: how many, how fast they arrive, for how long, which journeys."""

    users: int = Field(ge=1, le=1000)
    spawn_rate: float = Field(gt=0)
    duration_s: float = Field(gt=0)
    journeys: dict[str, int] = Field(min_length=1)

    @field_validator("journeys")
    @classmethod
    def _known_journeys(cls, journeys: dict[str, int]) -> dict[str, int]:
        known = locust_journeys()
        unknown = sorted(set(journeys) - set(known))
        if unknown:
            raise ValueError(f"unknown journey {', '.join(unknown)}; known: {', '.join(known)}")
        if any(weight < 1 for weight in journeys.values()):
            raise ValueError("journey weights are whole numbers of at least 1")
        return journeys

    def locust_args(
        self, *, users: int | None = None, duration_s: float | None = None
    ) -> list[str]:
        """Return Locust's command-line options and user classes for this profile."""
        weights = [{"user_class_name": n, "weight": w} for n, w in self.journeys.items()]
        return [
            "--users", str(users or self.users),
            "--spawn-rate", f"{self.spawn_rate:g}",
            "--run-time", f"{math.ceil(duration_s or self.duration_s)}s",
            # Attached with "=": the option takes several values, and would eat the class names.
            f"--config-users={json.dumps(weights)}",
            *self.journeys,
        ]  # fmt: skip


class Link(Frozen):
    title: str = Field(min_length=1)
    url: str = Field(pattern=r"^https://")


class Guide(Frozen):
    """How to diagnose the failure, what it is, and how the fix works."""

    where_to_look: tuple[str, ...] = Field(min_length=1)
    what_you_will_see: tuple[str, ...] = Field(min_length=1)
    root_cause: str = Field(min_length=1)
    fix: str = Field(min_length=1)
    further_reading: tuple[Link, ...] = Field(min_length=1)


#: Where a fault lives, as a drill asks it (localisation): the parts of the stack a person
#: on call can point at.
Component = Literal[
    "shop",  # the web app's own code and its processes (gunicorn workers)
    "database",  # PostgreSQL
    "redis",
    "job-queue",  # RQ workers, the payment jobs, the outbox relay
    "network",  # a link between two parts (the proxies stand for it)
    "external-service",  # the payment provider, the pricing service
    "client",  # the shoppers' side: their apps, their networks
]
COMPONENTS: tuple[str, ...] = Component.__args__  # type: ignore[attr-defined]
REMEDY_PATTERN = r"^(setting|reload):[a-z0-9][a-z0-9_-]*$"


class AnswerKey(Frozen):
    """What a drill grades: where the fault is, a root-cause id, keywords, a multiple choice.

    `component` is the answer to "where is it" for full marks; `related_components`
    are parts that show it or take part in it (half marks).
    """

    component: Component
    related_components: tuple[Component, ...] = ()
    #: Remedies an on-call engineer has that end this incident, besides deploying the fix:
    #: `setting:NAME` (a runtime setting changed) or `reload:SERVICE` (a graceful restart).
    remedies: tuple[Annotated[str, Field(pattern=REMEDY_PATTERN)], ...] = ()
    root_cause: str = Field(pattern=NAME_PATTERN)
    keywords: tuple[str, ...] = Field(min_length=1)
    choices: tuple[str, ...] = Field(min_length=3)
    correct_choice: int = Field(ge=0)

    @model_validator(mode="after")
    def _choice_exists(self) -> AnswerKey:
        if self.component in self.related_components:
            raise ValueError(f"{self.component!r} is the component, not a related one")
        if self.correct_choice >= len(self.choices):
            raise ValueError(
                f"correct_choice {self.correct_choice} is not one of the {len(self.choices)} choices"
            )
        return self

    def accepts(self, answer: str) -> bool:
        """Return whether a free-text answer names the root cause (any keyword, any case)."""
        text = answer.casefold()
        return any(keyword.casefold() in text for keyword in self.keywords)


class Scenario(Frozen):
    """One failure to teach: inject it, show its symptoms, check its fix."""

    name: str = Field(pattern=NAME_PATTERN)
    title: str = Field(min_length=1)
    difficulty: Literal["beginner", "intermediate", "advanced"]
    page: str = Field(min_length=1)
    faults: tuple[Fault, ...] = Field(min_length=1)
    fix: tuple[FixStep, ...] = Field(min_length=1)
    load: LoadProfile
    symptoms: tuple[Probe, ...] = Field(min_length=1)
    slo: tuple[Probe, ...] = Field(min_length=1)
    key_series: tuple[Series, ...] = Field(min_length=1)
    guide: Guide
    answer: AnswerKey
    #: What rollback does after removing the faults, in both modes (e.g. reload the shop).
    rollbacks: tuple[Reload, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        names = [p.name for p in (*self.symptoms, *self.slo)]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"probe names must be unique: {', '.join(duplicates)}")
        flagged = [p.name for p in self.slo if p.caused_by_fault]
        if flagged:
            raise ValueError(
                f"caused_by_fault marks symptoms, not SLO probes: {', '.join(flagged)}"
            )
        if all(p.caused_by_fault for p in self.symptoms):
            raise ValueError("every symptom is caused_by_fault: the fix would change nothing seen")
        # The page is what a drill shows: it must not give the answer away.
        page = self.page.casefold()
        switches = [f.name for f in self.faults if isinstance(f, Switch)]
        for word in (self.name, *switches, *self.answer.keywords):
            if word.casefold() in page:
                raise ValueError(f"the page gives the answer away: it says {word!r}")
        if not any(step not in self.faults for step in self.fix):
            raise ValueError("the fix changes nothing: every step is already one of the faults")
        return self

    def faults_for(self, *, fixed: bool) -> tuple[FaultStep, ...]:
        """Return what to inject: the faults, with the fix's steps replacing or adding to them.

        The fix's steps come first: the fixed code is deployed before the incident,
        so the fault never meets the bug (a cache filled through a slow link, say).
        """
        if not fixed:
            return self.faults
        fix = {(step.kind, step.name): step for step in self.fix}
        kept = [f for f in self.faults if (f.kind, getattr(f, "name", None)) not in fix]
        return (*fix.values(), *kept)

    @property
    def switches(self) -> set[str]:
        """Return every bug switch the scenario flips (faults and fix)."""
        return {s.name for s in (*self.faults, *self.fix) if isinstance(s, Switch)}

    @property
    def settings(self) -> set[str]:
        """Return every shop setting the scenario changes (faults and fix)."""
        return {s.name for s in (*self.faults, *self.fix) if isinstance(s, Setting)}
