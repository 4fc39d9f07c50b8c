"""Faults applied for real, then undone from the active-run file as after a killed runner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from chaos.faults import ProcessFault, Setting, Switch, Toxic
from chaos.faults.injector import Injector
from chaos.scenarios import processes
from chaos.scenarios.cleanup import (
    ActiveRun,
    active_file,
    read_active,
    sweep,
    undo_active,
    undo_crashed_run,
    write_active,
)
from chaos.stack.manager import Stack
from target_app.runtime_settings import RuntimeSettings
from target_app.switches import SwitchBoard

pytestmark = pytest.mark.slow

FAULTS = (
    Toxic(proxy="postgres", type="latency", attributes={"latency": 5}, name="cleanup_test"),
    Switch(name="lock_in_cart_order", value=True),
    Setting(name="payment_failure_rate", value=0.5),
)


@pytest.fixture
def injector(stack: Stack) -> Iterator[Injector]:
    injector = Injector(stack)
    yield injector
    # Whatever a failed test left: no fault may leak into the next test.
    undo_crashed_run(stack)
    sweep(injector)


def faults_on(injector: Injector) -> list[str]:
    """Return every fault the stack shows, as the runner's sweep would find it."""
    found = [f"toxic {t.name}" for p in injector.toxiproxy.proxies().values() for t in p.toxics]
    found += [n for n, on in SwitchBoard(injector.switches_file).states().items() if on]
    found += list(RuntimeSettings(injector.settings_file).overrides())
    return found


def dead_run(stack: Stack, steps: list[object]) -> ActiveRun:
    """An active-run file as a runner killed mid-run leaves it (its pid long gone)."""
    run = ActiveRun(
        scenario="test",
        pid=2**22 + 1,  # above pid_max's default: no such process
        started_at=0.0,
        steps=[s.model_dump(mode="json") for s in steps],  # type: ignore[attr-defined]
    )
    write_active(stack.settings, run)
    return run


def test_apply_then_revert_each_kind(injector: Injector) -> None:
    for fault in FAULTS:
        injector.apply(fault)
    assert sorted(faults_on(injector)) == [
        "lock_in_cart_order",
        "payment_failure_rate",
        "toxic cleanup_test",
    ]
    for fault in reversed(FAULTS):
        injector.revert(fault)
    assert faults_on(injector) == []
    # Reverting again is harmless: a rollback may meet a fault someone else removed.
    assert "already gone" in injector.revert(FAULTS[0])


def test_undo_active_undoes_what_a_killed_run_listed(stack: Stack, injector: Injector) -> None:
    for fault in FAULTS:
        injector.apply(fault)
    run = dead_run(stack, list(FAULTS))
    assert not run.runner_alive()
    assert read_active(stack.settings) == run
    lines = undo_active(injector)
    assert lines[0].startswith("undoing run of test")
    assert faults_on(injector) == []
    assert not active_file(stack.settings).exists()


def test_sweep_removes_faults_nobody_listed(injector: Injector) -> None:
    for fault in FAULTS:
        injector.apply(fault)
    injector.toxiproxy.set_enabled("redis", False)
    removed = sweep(injector)
    assert any("toxic cleanup_test on postgres" in line for line in removed)
    assert any("proxy redis disabled" in line for line in removed)
    assert faults_on(injector) == []
    assert all(p.enabled for p in injector.toxiproxy.proxies().values())
    assert sweep(injector) == []


def backend(stack: Stack) -> psycopg.Connection[tuple[object, ...]]:
    url = stack.settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(url, autocommit=True, connect_timeout=3)


def test_pause_stops_every_postgres_backend_and_reset_continues_them(
    stack: Stack, injector: Injector
) -> None:
    """Backends call setsid(): only a signal to the whole process tree stops them all."""
    with backend(stack) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        postmaster = stack.running("postgres")
        assert postmaster is not None
        assert os.getsid(pid) != os.getsid(postmaster.pid)  # not in the postmaster's session
        pause = ProcessFault(service="postgres", action="pause")
        dead_run(stack, [pause])
        try:
            injector.apply(pause)
            stopped = processes.stopped(postmaster.pid)
            assert pid in stopped and postmaster.pid in stopped
            # Every member is stopped, but for backends that exited since (zombies: the
            # stopped postmaster cannot reap them, e.g. a monitoring connection closing).
            assert processes.unstopped(postmaster.pid) == []
        finally:
            lines = undo_crashed_run(stack)  # what `faultyard reset` runs first
        assert any("continued postgres" in line for line in lines)
        assert processes.stopped(postmaster.pid) == []
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert not active_file(stack.settings).exists()


def test_reset_continues_a_paused_service_even_without_the_file(
    stack: Stack, injector: Injector
) -> None:
    injector.apply(ProcessFault(service="redis", action="pause"))
    record = stack.running("redis")
    assert record is not None and processes.stopped(record.pid)
    assert any("continued redis" in line for line in undo_crashed_run(stack))
    assert processes.stopped(record.pid) == []


def test_active_file_lives_in_the_state_folder(stack: Stack) -> None:
    assert active_file(stack.settings) == Path(stack.settings.state_path) / "scenario-active.json"
