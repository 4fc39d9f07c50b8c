"""Apply, revert and sweep faults on one stack, each kind through its own module."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chaos.faults import process, setting, switch
from chaos.faults.base import REGISTRY, FaultKind
from chaos.faults.context import FaultContext

if TYPE_CHECKING:
    from chaos.stack.manager import Stack

#: A step of a run: any registered fault kind (a fault, a fix's step, a rollback).
Step = FaultKind


def step_from_dict(data: dict[str, Any]) -> FaultKind:
    """Read a step back from its JSON form (`step.model_dump(mode="json")`), by its kind."""
    kind = REGISTRY.get(str(data.get("kind")))
    if kind is None:
        raise ValueError(f"unknown fault kind {data.get('kind')!r}; known: {', '.join(REGISTRY)}")
    return kind.model_validate(data)


class Injector:
    """Applies and reverts steps on one stack, and sweeps what anyone left on it."""

    def __init__(self, stack: Stack) -> None:
        self.ctx = FaultContext.for_stack(stack)
        self.stack = stack
        self.toxiproxy = self.ctx.toxiproxy
        self.admin = self.ctx.admin
        self.switches_file = self.ctx.switches_file
        self.settings_file = self.ctx.settings_file

    def apply(self, step: FaultKind) -> str:
        """Apply one step; return what was done, in words."""
        return step.apply(self.ctx)

    def revert(self, step: FaultKind) -> str:
        """Undo one step (idempotent: reverting what is not there is fine); return what was done."""
        return step.revert(self.ctx)

    def sweep(self) -> list[str]:
        """Undo every fault of every kind still on the stack, whoever left it (REGISTRY order)."""
        return [line for kind in REGISTRY.values() for line in kind.sweep(self.ctx)]

    def switches_on(self) -> list[str]:
        """Return the bug switches that are on, as the shop (else its switch file) says."""
        return switch.switches_on(self.ctx)

    def switch_off(self, name: str) -> str:
        """Turn a bug switch off, through the shop or, if it does not answer, in its file."""
        return switch.switch_off(self.ctx, name)

    def reset_switches(self) -> str:
        """Turn every bug switch off, through the shop or, if it does not answer, in its file."""
        return switch.reset_switches(self.ctx)

    def settings_overridden(self) -> dict[str, Any]:
        """Return the runtime settings changed from their defaults, as the shop (else its file) says."""
        return setting.settings_overridden(self.ctx)

    def reset_setting(self, name: str | None = None) -> str:
        """Drop a runtime setting (every one if None): through the shop, else in its file."""
        return setting.reset_setting(self.ctx, name)

    def resume(self, service: str) -> str:
        """Continue a service's whole process tree (SIGCONT)."""
        return process.resume(self.ctx, service)

    def resume_stopped(self) -> list[str]:
        """Continue every service with a stopped process in its tree."""
        return process.ProcessFault.sweep(self.ctx)
