"""reload: a graceful reload of one of the stack's services, run at rollback after the faults go.

For damage that outlives its fault: connections leaked into a process's pool
come back only when that process is replaced (gunicorn starts new workers and
lets the old ones finish their requests). Nothing to revert.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from chaos.errors import StackError
from chaos.faults.base import FaultKind, register

if TYPE_CHECKING:
    from chaos.faults.context import FaultContext


@register
class Reload(FaultKind):
    """A graceful reload of one of the stack's services, run at rollback after the faults go."""

    kind: Literal["reload"] = "reload"
    service: Literal["app"]

    def describe(self) -> str:
        """Return one line saying what this step does."""
        return f"reload {self.service} gracefully"

    def apply(self, ctx: FaultContext) -> str:
        """Reload the service gracefully; a service that does not run is left alone."""
        try:
            state = ctx.stack.reload(self.service)
        except StackError as exc:  # not running (nothing to reload), or not reloadable here
            return f"{self.service} not reloaded: {exc}"
        return f"reloaded {self.service} gracefully in {state.ready_after_s:.1f}s"

    def revert(self, ctx: FaultContext) -> str:
        """Do nothing: a reload leaves nothing to undo."""
        return f"nothing to undo for a reload of {self.service}"
