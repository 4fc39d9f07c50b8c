"""What every benchmark starts and writes: a private stack on free ports, and its results files."""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chaos.ports import free_port
from chaos.settings import StackSettings, load_stack_settings
from chaos.stack.manager import Stack
from chaos.stack.services import services

RESULTS = Path("results")


@contextmanager
def private_stack(*wanted: str) -> Iterator[StackSettings]:
    """Start these services of a stack of their own (temporary state folder, free ports).

    Yield its settings; stop the services and remove the folder afterwards, whatever happened.
    SIGTERM (a CI job cancelled, `kill`) meanwhile counts as Ctrl-C, so it too stops them.
    """
    state = Path(tempfile.mkdtemp(prefix="faultyard-bench-"))
    state.chmod(0o755)  # the postgres user reads its data folder's parent
    ports = {name: free_port() for name in StackSettings.model_fields if name.endswith("_port")}
    settings = load_stack_settings(state_dir=state, **ports)
    stack = Stack(settings, services=[s for s in services(settings) if s.name in wanted])
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        print(f"starting {', '.join(wanted)} ...", flush=True)
        stack.up()
        yield settings
    finally:
        try:
            stack.down()
            shutil.rmtree(state, ignore_errors=True)
        finally:
            signal.signal(signal.SIGTERM, previous)


def write_results(name: str, summary: dict[str, Any], markdown: list[str]) -> Path:
    """Write results/NAME.json (the summary) and results/NAME.md (the lines); return the .md."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(markdown) + "\n")
    return path
