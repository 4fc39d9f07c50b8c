"""A worker whose Redis link drops while it works: RQ's loop quits, the process works again after."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.job import JobStatus

from chaos.stack.manager import Stack
from chaos.toxiproxy import ToxiproxyClient
from tests.conftest import eventually

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_worker_works_again_after_redis_comes_back(stack: Stack, tmp_path: Path) -> None:
    api = ToxiproxyClient(stack.settings.toxiproxy_api_url)
    proxy_name = f"rq-{uuid.uuid4().hex[:8]}"
    # A fixed port: the worker reconnects to the same address once the proxy is enabled again.
    listen = f"127.0.0.1:{free_port()}"
    api.create_proxy(proxy_name, listen=listen, upstream=f"127.0.0.1:{stack.settings.redis_port}")
    name = f"test-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "FAULTYARD_REDIS_URL": f"redis://{listen}/0",
        "FAULTYARD_PAYMENT_QUEUE": name,
        "FAULTYARD_STATE_DIR": str(tmp_path),
    }
    redis = Redis.from_url(stack.settings.redis_url)
    queue = Queue(name, connection=redis)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "target_app.worker", name], env=env, stdout=out, stderr=out
        )
    try:
        busy = queue.enqueue("time.sleep", 1.0)
        eventually(lambda: busy.get_status(refresh=True) == JobStatus.STARTED, "the job to start")
        api.set_enabled(proxy_name, False)  # the link drops mid-job: its heartbeat after fails
        eventually(lambda: "RQ's loop quit" in log.read_text(), "RQ's loop to quit")
        assert proc.poll() is None, log.read_text()
        api.set_enabled(proxy_name, True)

        after = queue.enqueue("time.sleep", 0)
        eventually(lambda: after.get_status(refresh=True) == JobStatus.FINISHED, "the next job")
        assert proc.poll() is None  # the same process, working again
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        api.delete_proxy(proxy_name)
        redis.close()
    assert proc.returncode == 0, log.read_text()


def test_the_scheduler_schedules_again_after_redis_comes_back(stack: Stack, tmp_path: Path) -> None:
    """RQ's scheduler loop raises on a Redis error: the process waits instead of dying with it."""
    api = ToxiproxyClient(stack.settings.toxiproxy_api_url)
    proxy_name = f"sched-{uuid.uuid4().hex[:8]}"
    listen = f"127.0.0.1:{free_port()}"
    api.create_proxy(proxy_name, listen=listen, upstream=f"127.0.0.1:{stack.settings.redis_port}")
    name = f"test-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "scheduler.log"
    env = {
        **os.environ,
        "FAULTYARD_REDIS_URL": f"redis://{listen}/0",
        "FAULTYARD_PAYMENT_QUEUE": name,
        "FAULTYARD_STATE_DIR": str(tmp_path),
    }
    redis = Redis.from_url(stack.settings.redis_url)
    queue = Queue(name, connection=redis)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "target_app.scheduler"], env=env, stdout=out, stderr=out
        )
    try:
        eventually(lambda: redis.exists(f"rq:scheduler-lock:{name}"), "the scheduler's lock")
        api.set_enabled(proxy_name, False)
        eventually(lambda: "scheduling again once Redis answers" in log.read_text(), "the error")
        assert proc.poll() is None, log.read_text()
        api.set_enabled(proxy_name, True)

        due = queue.enqueue_in(timedelta(seconds=1), "time.sleep", 0)
        eventually(lambda: due.get_status(refresh=True) == JobStatus.QUEUED, "the due job enqueued")
        assert proc.poll() is None  # the same process, scheduling again
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        api.delete_proxy(proxy_name)
        queue.delete(delete_jobs=True)
        redis.close()
    assert proc.returncode == 0, log.read_text()
