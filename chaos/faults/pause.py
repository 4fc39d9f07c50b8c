"""pause: wait between two fault steps, for what the first one set off to settle.

Chaos Toolkit's `pauses` between activities, as a step of its own: a deploy's
clients reconnect to the new processes a moment after it, and the next fault
must find them there. Nothing to revert.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from chaos.faults.base import FaultKind, register

if TYPE_CHECKING:
    from chaos.faults.context import FaultContext


@register
class Pause(FaultKind):
    """A wait of a few seconds between the fault steps before it and after it."""

    kind: Literal["pause"] = "pause"
    seconds: float = Field(gt=0, le=60)

    def describe(self) -> str:
        """Return one line saying what this step does."""
        return f"pause {self.seconds:g}s"

    def apply(self, ctx: FaultContext) -> str:
        """Wait."""
        time.sleep(self.seconds)
        return f"paused {self.seconds:g}s"

    def revert(self, ctx: FaultContext) -> str:
        """Do nothing: a pause leaves nothing to undo."""
        return "nothing to undo for a pause"
