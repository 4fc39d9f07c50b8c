"""What the person (or an agent) may see of a drill: the same view for the CLI and MCP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chaos.drill import session
from chaos.drill.state import DrillState


def public(state: DrillState) -> dict[str, Any]:
    """Return what the person may see of a running drill (nothing that names the fault)."""
    paged = state.injected_at is not None
    data: dict[str, Any] = {
        "id": state.id,
        "status": state.status,
        "elapsed_s": state.elapsed_s(),
        "hints_used": state.hints_used,
        "answers": state.answers,
        "paged_at": datetime.fromtimestamp(state.injected_at).isoformat() if paged else None,
        "page": session.page_scenario(state).page if paged else None,
    }
    if paged and state.running:
        data["root_cause_choices"] = session.choices(state)
    if state.grade is not None:
        data["grade"] = state.grade
        data["report"] = f"{state.report_dir}/report.md"
    return data
