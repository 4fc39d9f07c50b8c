"""Which of the stack's processes a process fault may signal, by the names users give them.

`postgres`, `redis`, `app` (gunicorn's master, with its workers), `app:worker`
(one gunicorn worker: the oldest), `worker-N` (an RQ worker), `relay` and
`scheduler`. Only a process the stack started and still runs, found through its
pid file (pid and start time, so a reused pid is never signalled); never the
stack's own machinery (the proxy, Prometheus, the exporters, the console).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.scenarios import processes
from chaos.scenarios.processes import ProcessFaultError
from chaos.stack import process

if TYPE_CHECKING:
    from chaos.stack.manager import Stack

APP_WORKER = "app:worker"
SERVICES = ("postgres", "redis", "app", "relay", "scheduler")
RQ_WORKER = re.compile(r"^worker-[0-9]+$")
#: What a target may be named in a fault or on the command line (the pydantic pattern).
TARGET_PATTERN = r"^(postgres|redis|app|app:worker|worker-[0-9]+|relay|scheduler)$"


@dataclass(frozen=True)
class Target:
    """A resolved target: the service, and the process to signal (the service's, or a member)."""

    name: str
    service: str
    record: process.ProcessRecord
    #: One gunicorn worker, not the service's own process.
    member: bool = False


def target_names(stack: Stack) -> list[str]:
    """Return every target this stack has, in start order."""
    names = [n for n in stack.names() if n in SERVICES or RQ_WORKER.match(n)]
    return [*names[: names.index("app") + 1], APP_WORKER, *names[names.index("app") + 1 :]]


def resolve(stack: Stack, name: str) -> Target:
    """Return the running process a target names; raise ProcessFaultError otherwise."""
    known = target_names(stack)
    if name not in known:
        raise ProcessFaultError(
            f"{name!r} is not a process a fault may signal; choose one of: {', '.join(known)}"
        )
    service = "app" if name == APP_WORKER else name
    record = stack.running(service)
    if record is None:
        raise ProcessFaultError(f"{service} does not run (`faultyard up` starts it)")
    if name != APP_WORKER:
        return Target(name, service, record)
    workers = gunicorn_workers(record)
    if not workers:
        raise ProcessFaultError("gunicorn has no worker running right now; try again in a moment")
    return Target(name, service, workers[0], member=True)


def gunicorn_workers(master: process.ProcessRecord) -> list[process.ProcessRecord]:
    """Return the master's live children (its workers), oldest first."""
    stats = processes.process_table()
    found = []
    for pid, (state, ppid) in stats.items():
        ticks = process.start_ticks(pid)
        if ppid == master.pid and state not in ("Z", "X") and ticks is not None:
            found.append(process.ProcessRecord(pid, ticks, master.started_at, []))
    return sorted(found, key=lambda r: (r.start_ticks, r.pid))
