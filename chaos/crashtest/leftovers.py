"""What a killed run may leave on the stack, looked for everywhere it could be.

Each finding is one line naming what is wrong: a toxic or a disabled proxy, a
bug switch on, a runtime setting changed, a stopped process in a service's
tree, a service down or unhealthy, an index missing or invalid, a Locust
process of the run still alive, the active-run file still there. An empty list
is a clean stack.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg

from chaos.errors import FaultyardError
from chaos.faults.injector import Injector
from chaos.scenarios import processes
from chaos.scenarios.cleanup import active_file
from chaos.settings import libpq_url
from chaos.stack.manager import Stack

#: The shop's indexes: valid ones by name, and every index by name with whether it is valid.
INDEXES_SQL = """
SELECT c.relname, i.indisvalid FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public'
"""
#: How long Locust may take to go after its runner died (it gets SIGTERM, writes its stats).
LOCUST_GONE_S = 15.0


def indexes(stack: Stack) -> dict[str, bool]:
    """Return the shop's indexes, each with whether it is valid."""
    url = libpq_url(stack.settings.database_url)
    with psycopg.connect(url, connect_timeout=5, application_name="faultyard-crashtest") as conn:
        return {name: bool(valid) for name, valid in conn.execute(INDEXES_SQL).fetchall()}


def processes_naming(marker: str) -> list[int]:
    """Return live processes (not zombies) whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def locust_left(marker: str, wait_s: float = LOCUST_GONE_S) -> list[int]:
    """Return the run's processes still alive once they had `wait_s` to go."""
    deadline = time.monotonic() + wait_s
    while (alive := processes_naming(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive


def faults(stack: Stack) -> list[str]:
    """Return the faults the stack shows: proxies, switches, settings, stopped processes."""
    injector = Injector(stack)
    found = []
    for proxy in injector.toxiproxy.proxies().values():
        found += [f"toxic {t.name} ({t.type}) on {proxy.name}" for t in proxy.toxics]
        if not proxy.enabled:
            found.append(f"proxy {proxy.name} disabled")
    found += [f"switch {name} on" for name in injector.switches_on()]
    found += [f"setting {name} = {v}" for name, v in injector.settings_overridden().items()]
    for name in stack.names():
        record = stack.running(name)
        if record is not None and (stopped := processes.stopped(record.pid)):
            found.append(f"{name}: {len(stopped)} processes stopped (SIGSTOP)")
    return found


def services(stack: Stack) -> list[str]:
    """Return each service that is not running, or not healthy."""
    found = []
    for state in stack.status():
        if not state.running:
            found.append(f"service {state.name} not running")
        elif not state.healthy:
            found.append(f"service {state.name} unhealthy: {state.detail}")
    return found


def index_changes(stack: Stack, expected: dict[str, bool]) -> list[str]:
    """Return the indexes missing, or invalid, compared with the stack's at the start."""
    now = indexes(stack)
    found = [f"index {name} missing" for name in sorted(expected.keys() - now.keys())]
    found += [f"index {name} invalid" for name, valid in sorted(now.items()) if not valid]
    return found


def leftovers(stack: Stack, expected_indexes: dict[str, bool], marker: str) -> list[str]:
    """Return everything a killed run left: an empty list is a clean stack."""
    found = []
    for look in (faults, services):
        try:
            found += look(stack)
        except (FaultyardError, OSError) as exc:
            found.append(f"could not look ({look.__name__}): {exc}")
    try:
        found += index_changes(stack, expected_indexes)
    except psycopg.Error as exc:
        found.append(f"could not look at the indexes: {exc}")
    if alive := locust_left(marker):
        found.append(f"Locust still running: pids {', '.join(map(str, alive))}")
    if active_file(stack.settings).exists():
        found.append(f"active-run file {active_file(stack.settings)} still there")
    return found
