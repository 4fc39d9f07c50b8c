"""The RQ worker entry point under gevent: warm shutdown finishes the job in hand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.job import JobStatus

from chaos.stack.manager import Stack

pytestmark = pytest.mark.slow


@pytest.fixture
def worker_queue(
    stack: Stack, tmp_path: Path
) -> Iterator[tuple[Queue, subprocess.Popen[bytes], Path]]:
    """A worker process of our own on a queue of its own, on the stack's Redis."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "FAULTYARD_REDIS_URL": stack.settings.redis_url,
        "FAULTYARD_PAYMENT_QUEUE": name,
        "FAULTYARD_STATE_DIR": str(tmp_path),
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "target_app.worker", name],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    redis = Redis.from_url(stack.settings.redis_url)
    deadline = time.monotonic() + 20
    while not any(w.name == name for w in Worker.all(connection=redis)):
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "worker never registered"
        time.sleep(0.05)
    yield Queue(name, connection=redis), proc, log
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_sigterm_mid_job_finishes_the_job_then_exits(
    worker_queue: tuple[Queue, subprocess.Popen[bytes], Path],
) -> None:
    queue, proc, log = worker_queue
    job = queue.enqueue("time.sleep", 1.5)
    deadline = time.monotonic() + 20
    while job.get_status(refresh=True) != JobStatus.STARTED:
        assert time.monotonic() < deadline, "job never started"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0, log.read_text()
    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert "Traceback" not in log.read_text()


@pytest.mark.parametrize("attempt", range(3))  # the signal lands at a different point of start-up
def test_sigterm_when_idle_exits_cleanly(
    attempt: int,
    worker_queue: tuple[Queue, subprocess.Popen[bytes], Path],
) -> None:
    _queue, proc, log = worker_queue
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0, log.read_text()
    assert "Traceback" not in log.read_text()


def test_a_worker_killed_outright_starts_again_under_its_name(
    stack: Stack,
    worker_queue: tuple[Queue, subprocess.Popen[bytes], Path],
    tmp_path: Path,
) -> None:
    """A SIGKILL leaves the worker's registration in Redis; its successor clears it and works."""
    queue, proc, _log = worker_queue
    name = next(w.name for w in Worker.all(queue=queue))
    proc.kill()
    proc.wait()
    assert any(w.name == name for w in Worker.all(connection=queue.connection))  # left behind
    env = {
        **os.environ,
        "FAULTYARD_REDIS_URL": stack.settings.redis_url,
        "FAULTYARD_PAYMENT_QUEUE": queue.name,
        "FAULTYARD_STATE_DIR": str(tmp_path),
    }
    again_log = tmp_path / "again.log"
    with open(again_log, "wb") as out:
        again = subprocess.Popen(
            [sys.executable, "-m", "target_app.worker", name], env=env, stdout=out, stderr=out
        )
    try:
        job = queue.enqueue("time.sleep", 0)
        deadline = time.monotonic() + 20
        while job.get_status(refresh=True) != JobStatus.FINISHED:
            assert again.poll() is None, again_log.read_text()
            assert time.monotonic() < deadline, "the restarted worker never ran the job"
            time.sleep(0.05)
        assert "clearing the registration a dead process left" in again_log.read_text()
    finally:
        again.terminate()
        again.wait(timeout=20)
