"""Process faults: pause, continue, terminate or kill one service's whole process tree.

A service's tree is its recorded process and every descendant by parent PID,
not its process group: PostgreSQL's backends call setsid(), so a SIGSTOP sent
to the postmaster's group would miss them and the database would still answer.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections import defaultdict
from pathlib import Path

from chaos.errors import FaultyardError
from chaos.stack import process
from chaos.stack.process import ProcessRecord


class ProcessFaultError(FaultyardError):
    """A process fault could not be applied: the service does not run."""


def process_table() -> dict[int, tuple[str, int]]:
    """Return every process's (state, parent PID)."""
    found: dict[int, tuple[str, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        found[int(entry.name)] = (fields[0], int(fields[1]))
    return found


def tree(root: int, stats: dict[int, tuple[str, int]] | None = None) -> list[int]:
    """Return a process and all its descendants, parents first (empty if it is gone).

    `stats` is a process table from `process_table()` already read, else it is read now.
    """
    if stats is None:
        stats = process_table()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (_state, ppid) in stats.items():
        children[ppid].append(pid)
    members, pending = [], [root] if root in stats else []
    while pending:
        pid = pending.pop(0)
        members.append(pid)
        pending.extend(children.get(pid, ()))
    return members


def stopped(root: int) -> list[int]:
    """Return the members of a process's tree that are stopped (SIGSTOP, state T)."""
    stats = process_table()
    return [pid for pid in tree(root, stats) if stats[pid][0] == "T"]


def unstopped(root: int) -> list[int]:
    """Return the members of a process's tree still running: neither stopped nor zombies.

    A child that exits while its parent is stopped stays a zombie (nobody reaps it)
    until the parent continues: it runs no more, and a SIGSTOP does not change its state.
    """
    stats = process_table()
    return [pid for pid in tree(root, stats) if stats[pid][0] not in ("T", "t", "Z")]


def signal_tree(record: ProcessRecord, sig: int) -> int:
    """Send a signal to every member of the recorded process's tree; return how many got it."""
    if not process.is_alive(record):
        return 0
    sent = 0
    for pid in tree(record.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
            sent += 1
    return sent


def pause(record: ProcessRecord) -> int:
    """Stop (SIGSTOP) a service's whole tree; return how many processes were stopped.

    Parents go first, so a stopped parent forks no new child; a second pass
    catches a child forked between the first pass's reading and its signal.
    """
    if not process.is_alive(record):
        return 0
    done: set[int] = set()
    for _pass in range(2):
        for pid in tree(record.pid):
            if pid not in done:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
                    done.add(pid)
    return len(done)


def resume(record: ProcessRecord) -> int:
    """Continue (SIGCONT) a service's whole tree; harmless when nothing was stopped."""
    return signal_tree(record, signal.SIGCONT)
