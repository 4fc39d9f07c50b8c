"""`faultyard kill|pause|resume|term` on the session's stack: signalled, recorded, undone, refused."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from chaos.faults import process_log
from chaos.faults.process_targets import gunicorn_workers
from chaos.scenarios import processes
from chaos.stack.manager import Stack
from chaos.stack.process import ProcessRecord, is_alive, start_ticks
from tests.conftest import eventually, faultyard

pytestmark = pytest.mark.slow


@pytest.fixture
def undone(stack: Stack, cli_env: dict[str, str]) -> Iterator[None]:
    """Whatever a failed test left: every process continued, every service running."""
    yield
    faultyard(cli_env, "reset")


def running(stack: Stack, service: str) -> ProcessRecord:
    record = stack.running(service)
    assert record is not None, f"{service} does not run"
    return record


def exported_faults(stack: Stack) -> str:
    metrics = requests.get(f"{stack.settings.exporter_url}/metrics", timeout=5).text
    return "\n".join(line for line in metrics.splitlines() if line.startswith("faultyard_fault_"))


def test_a_time_boxed_pause_is_shown_exported_and_continued_by_itself(
    stack: Stack, cli_env: dict[str, str], undone: None
) -> None:
    worker = running(stack, "worker-2")
    result = faultyard(cli_env, "pause", "worker-2", "--duration", "3s")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("paused worker-2: 1 processes stopped (SIGSTOP)\n")
    assert "continued by itself in 3s" in result.stdout
    assert processes.stopped(worker.pid) == [worker.pid]
    status = faultyard(cli_env, "status").stdout
    assert (
        f"PROCESS FAULTS (undone by `faultyard reset`)\n  pause worker-2 (pid {worker.pid}"
        in status
    )
    series = 'faultyard_fault_active{kind="process",name="pause",target="worker-2"} 1.0'
    assert series in exported_faults(stack)

    eventually(lambda: not processes.stopped(worker.pid), "the timer to continue worker-2", 15)
    assert is_alive(worker)  # the same process, continued
    assert process_log.faults_on(stack.settings.state_path) == []
    assert series not in exported_faults(stack)
    timer_log = (stack.settings.state_path / "logs" / "process-timer.log").read_text()
    assert f"pause worker-2 (pid {worker.pid}) after 3s: continued worker-2" in timer_log


def test_a_killed_service_stays_down_until_reset_starts_it_again(
    stack: Stack, cli_env: dict[str, str], undone: None
) -> None:
    relay = running(stack, "relay")
    result = faultyard(cli_env, "kill", "relay")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "killed relay: SIGKILL to 1 processes\nuntil `faultyard up` or `faultyard reset`\n"
    )
    assert not is_alive(relay)
    status = faultyard(cli_env, "status")
    assert status.returncode == 1  # a service is down
    assert f"  kill relay (pid {relay.pid}" in status.stdout
    assert 'kind="process",name="kill",target="relay"' in exported_faults(stack)

    reset = faultyard(cli_env, "reset")
    assert reset.returncode == 0, reset.stderr
    assert f"left over: kill relay (pid {relay.pid}" in reset.stdout
    assert "relay started again" in reset.stdout
    assert running(stack, "relay").pid != relay.pid
    assert process_log.faults_on(stack.settings.state_path) == []


def test_a_terminated_gunicorn_worker_is_replaced_by_gunicorn(
    stack: Stack, cli_env: dict[str, str], undone: None
) -> None:
    master = running(stack, "app")
    before = gunicorn_workers(master)
    oldest = before[0]
    result = faultyard(cli_env, "term", "app:worker")
    assert result.returncode == 0, result.stderr
    assert f"sent SIGTERM to app:worker (gunicorn worker {oldest.pid})" in result.stdout
    assert "gunicorn starts a new worker in its place by itself" in result.stdout
    eventually(lambda: not is_alive(oldest), "the worker to finish and exit")
    replaced = lambda: len(gunicorn_workers(master)) == len(before)  # noqa: E731
    eventually(replaced, "gunicorn to start a worker in its place")
    assert oldest.pid not in {w.pid for w in gunicorn_workers(master)}
    assert is_alive(master)
    assert requests.get(f"{stack.settings.shop_url}/healthz", timeout=5).ok
    assert process_log.faults_on(stack.settings.state_path) == []


@pytest.mark.parametrize("target", ["proxy", "prometheus", "console", "postgres-exporter", "bash"])
def test_what_the_stack_did_not_start_or_must_keep_is_refused(
    cli_env: dict[str, str], target: str
) -> None:
    result = faultyard(cli_env, "kill", target)
    assert result.returncode == 2
    assert (
        f"error: '{target}' is not a process a fault may signal; choose one of: " in result.stderr
    )
    assert "postgres, redis, app, app:worker, worker-1, worker-2" in result.stderr


def test_bad_durations_and_resuming_what_runs_are_answered_clearly(
    stack: Stack, cli_env: dict[str, str]
) -> None:
    bad = faultyard(cli_env, "pause", "redis", "--duration", "soon")
    assert bad.returncode == 2
    assert "Invalid value for --duration: 'soon' is not a duration like 30s" in bad.stderr
    assert not processes.stopped(running(stack, "redis").pid)
    resumed = faultyard(cli_env, "resume", "redis")
    assert (resumed.returncode, resumed.stdout) == (
        0,
        "redis was not paused: nothing to continue\n",
    )


def test_up_names_a_paused_service_instead_of_waiting_for_it(
    stack: Stack, cli_env: dict[str, str], undone: None
) -> None:
    assert faultyard(cli_env, "pause", "scheduler").returncode == 0
    started = time.monotonic()
    result = faultyard(cli_env, "up")
    assert result.returncode == 2
    assert "scheduler is paused (SIGSTOP): `faultyard resume scheduler`" in result.stderr
    assert time.monotonic() - started < 15  # not the 30 s a health check would wait
    assert faultyard(cli_env, "resume", "scheduler").stdout.startswith("continued scheduler")


def test_an_entry_is_on_only_while_its_fault_holds(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ticks = eventually(lambda: start_ticks(child.pid), "the child's /proc entry")
        assert isinstance(ticks, int)
        entry = process_log.ProcessFaultEntry(
            "worker-9", "worker-9", "pause", child.pid, ticks, time.time()
        )
        process_log.record(tmp_path, entry)
        assert process_log.faults_on(tmp_path) == []  # recorded, but the child runs
        child.send_signal(signal.SIGSTOP)
        eventually(lambda: process_log.faults_on(tmp_path) == [entry], "the stopped child")
        child.send_signal(signal.SIGCONT)
        eventually(lambda: process_log.faults_on(tmp_path) == [], "the continued child")
        # A killed service's fault holds until its pid file names a live process again.
        killed = process_log.ProcessFaultEntry("worker-9", "worker-9", "kill", 1, 0, time.time())
        process_log.record(tmp_path, killed)
        assert process_log.faults_on(tmp_path) == [killed]
        run = tmp_path / "run"
        run.mkdir()
        (run / "worker-9.pid").write_text(
            f'{{"pid": {child.pid}, "start_ticks": {ticks}, "started_at": 0, "argv": []}}'
        )
        assert process_log.faults_on(tmp_path) == []
        process_log.forget(tmp_path)
        assert not (tmp_path / process_log.LOG_FILE).exists()
    finally:
        child.kill()
        child.wait()
