"""CPU and RSS of every process the stack started, summed over each service's process tree.

A service is what one pid file in the state folder names (STATE/run/NAME.pid):
its process and every descendant count, so the gunicorn master and its
workers are service "app", the postmaster and its backends "postgres".

CPU is the sum, over the tree's live processes, of their own user+system time
plus the time of the children they have reaped (Linux's cutime/cstime). A
worker or backend that exits is reaped by its parent, so its CPU moves into
the parent's children time and the sum does not drop. It can still wobble at
the instant of a reap, or drop when a descendant is orphaned, so the exported
value never goes below the highest value seen for that incarnation of the
service (same PID and start time): the counter is monotonic while the service
runs and resets only when the service itself restarts, which rate() handles.

Finding the tree means reading every process of the machine, which is slow
(tens of milliseconds), so the tree is found again every RESCAN_S seconds or
when a service restarts; each scrape reads only the known members'
/proc/PID/stat. A process born since the last scan counts from the next scan
on, or, if it exits first, through its parent's children time.

Memory is the sum of the members' proportional set sizes (Pss in
/proc/PID/smaps_rollup): a page shared by n processes counts 1/n in each, so
the tree's sum counts PostgreSQL's shared buffers and the copy-on-write pages
of forked gunicorn workers once. (The plain sum of RSS counted them once per
process: with twenty backends each touching the shared buffers it climbed for
minutes after a start with no leak at all, and set off MemoryGrowth at rest.)
Reading Pss makes the kernel walk the process's page tables, about half a
millisecond a process, so a tree's memory is read again every MEMORY_REFRESH_S
seconds, not at every scrape; a process whose smaps_rollup cannot be read
counts its RSS.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from chaos.stack import process

RESCAN_S = 5.0
MEMORY_REFRESH_S = 2.0
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")

Member = tuple[int, int]  # (pid, start ticks): a PID reused by another process is not a member


@dataclass(frozen=True)
class Usage:
    """What one service's process tree uses right now."""

    cpu_seconds: float
    resident_bytes: int
    processes: int


@dataclass(frozen=True)
class Stat:
    """The fields of /proc/PID/stat the exporter needs."""

    ppid: int
    start_ticks: int
    cpu_seconds: float  # own user+system time plus that of the reaped children
    resident_bytes: int


def read_stat(pid: int) -> Stat | None:
    """Read one process's /proc/PID/stat; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(b")") + 2 :].split()
    # From the state (field 3): ppid 4, utime 14, stime 15, cutime 16, cstime 17,
    # starttime 22, rss 24 (in pages); see proc(5).
    ticks = sum(int(f) for f in fields[11:15])
    return Stat(
        ppid=int(fields[1]),
        start_ticks=int(fields[19]),
        cpu_seconds=ticks / CLOCK_TICKS_PER_S,
        resident_bytes=int(fields[21]) * PAGE_BYTES,
    )


def proportional_bytes(pid: int) -> int | None:
    """Return the process's proportional set size (Pss) in bytes; None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024  # in kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def all_stats() -> dict[int, Stat]:
    """Read every process of the machine (the slow part: one file per process)."""
    stats: dict[int, Stat] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (stat := read_stat(int(entry.name))) is not None:
            stats[int(entry.name)] = stat
    return stats


def _descendants(roots: list[int], stats: dict[int, Stat]) -> dict[int, list[Member]]:
    children: dict[int, list[int]] = defaultdict(list)
    for pid, stat in stats.items():
        children[stat.ppid].append(pid)
    trees: dict[int, list[Member]] = {}
    for root in roots:
        members: list[Member] = []
        pending = [root] if root in stats else []
        while pending:  # breadth first: a parent is read before its children
            pid = pending.pop(0)
            members.append((pid, stats[pid].start_ticks))
            pending.extend(children.get(pid, ()))
        trees[root] = members
    return trees


def tree_usage(members: list[Member], *, memory: bool = True) -> Usage | None:
    """Sum the members that still run; None if none does. Memory is Pss (0 if not `memory`).

    Parents are read first: a child reaped in between is then missed once (its
    time is not in the parent's yet) rather than counted twice.
    """
    cpu, resident, count = 0.0, 0, 0
    for pid, start_ticks in members:
        stat = read_stat(pid)
        if stat is None or stat.start_ticks != start_ticks:
            continue
        cpu += stat.cpu_seconds
        if memory:
            pss = proportional_bytes(pid)
            resident += stat.resident_bytes if pss is None else pss
        count += 1
    return Usage(cpu, resident, count) if count else None


class ProcessCollector(Collector):
    """Export faultyard_process_cpu_seconds_total and _resident_memory_bytes per service."""

    def __init__(self, run_dir: Path, *, rescan_s: float = RESCAN_S) -> None:
        self.run_dir = run_dir
        self.rescan_s = rescan_s
        self._roots: dict[str, Member] = {}
        self._trees: dict[str, list[Member]] = {}
        self._scanned_at = float("-inf")
        # service -> (root, highest CPU seconds exported for that incarnation)
        self._high_water: dict[str, tuple[Member, float]] = {}
        # service -> (when read, the tree's memory then)
        self._memory: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()  # scrapes may run concurrently

    def usage(self) -> dict[str, Usage]:
        """Return the usage of every running service that has a pid file."""
        roots = self._running_roots()
        with self._lock:
            if roots != self._roots or time.monotonic() - self._scanned_at >= self.rescan_s:
                self._rescan(roots)
            found: dict[str, Usage] = {}
            now = time.monotonic()
            for service, members in self._trees.items():
                read_at, resident = self._memory.get(service, (float("-inf"), 0))
                stale = now - read_at >= MEMORY_REFRESH_S
                usage = tree_usage(members, memory=stale)
                if usage is None:
                    continue
                if stale:
                    resident = usage.resident_bytes
                    self._memory[service] = (now, resident)
                root = roots[service]
                cpu = usage.cpu_seconds
                previous = self._high_water.get(service)
                if previous is not None and previous[0] == root:
                    cpu = max(cpu, previous[1])
                self._high_water[service] = (root, cpu)
                found[service] = Usage(cpu, resident, usage.processes)
            return found

    def _running_roots(self) -> dict[str, Member]:
        roots = {}
        for pid_file in sorted(self.run_dir.glob("*.pid")):
            record = process.read_pid_file(pid_file)
            if record is not None and process.is_alive(record):
                roots[pid_file.stem] = (record.pid, record.start_ticks)
        return roots

    def _rescan(self, roots: dict[str, Member]) -> None:
        trees = _descendants([pid for pid, _ticks in roots.values()], all_stats())
        self._trees = {service: trees[pid] for service, (pid, _ticks) in roots.items()}
        self._roots = roots
        if roots != self._roots:
            self._memory.clear()  # a service restarted: read its memory now
        self._scanned_at = time.monotonic()

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        """Yield CPU and memory per service."""
        cpu = CounterMetricFamily(
            "faultyard_process_cpu_seconds",
            "User and system CPU time of a service's whole process tree, in seconds.",
            labels=["service"],
        )
        rss = GaugeMetricFamily(
            "faultyard_process_resident_memory_bytes",
            "Resident memory of a service's whole process tree (sum of Pss: a page shared by n "
            "processes counts 1/n in each), in bytes.",
            labels=["service"],
        )
        for service, usage in self.usage().items():
            cpu.add_metric([service], usage.cpu_seconds)
            rss.add_metric([service], usage.resident_bytes)
        yield cpu
        yield rss
