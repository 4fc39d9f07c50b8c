"""A worker whose Redis link drops while it works: RQ's loop quits, the process works again after."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass
class ProxiedProcess:
    """A shop process on a queue of its own, its Redis link through a proxy of its own."""

    api: ToxiproxyClient
    proxy_name: str
    queue: Queue
    log: Path
    proc: subprocess.Popen[bytes]

    def link(self, *, up: bool) -> None:
        self.api.set_enabled(self.proxy_name, up)


@contextmanager
def proxied_process(
    stack: Stack, tmp_path: Path, module: str, *, queue_argument: bool = False
) -> Iterator[ProxiedProcess]:
    """Run `python -m module` (the queue's name as its argument with `queue_argument`); stop it
    with SIGTERM at the end and check it exited 0."""
    api = ToxiproxyClient(stack.settings.toxiproxy_api_url)
    proxy_name = f"rq-{uuid.uuid4().hex[:8]}"
    # A fixed port: the process reconnects to the same address once the proxy is enabled again.
    listen = f"127.0.0.1:{free_port()}"
    api.create_proxy(proxy_name, listen=listen, upstream=f"127.0.0.1:{stack.settings.redis_port}")
    name = f"test-{uuid.uuid4().hex[:8]}"
    log = tmp_path / f"{module}.log"
    env = {
        **os.environ,
        "FAULTYARD_REDIS_URL": f"redis://{listen}/0",
        "FAULTYARD_PAYMENT_QUEUE": name,
        "FAULTYARD_STATE_DIR": str(tmp_path),
    }
    redis = Redis.from_url(stack.settings.redis_url)
    argv = [sys.executable, "-m", module, *([name] if queue_argument else [])]
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=out)
    queue = Queue(name, connection=redis)
    try:
        yield ProxiedProcess(api, proxy_name, queue, log, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        api.delete_proxy(proxy_name)
        queue.delete(delete_jobs=True)
        redis.close()
    assert proc.returncode == 0, log.read_text()


def test_a_worker_works_again_after_redis_comes_back(stack: Stack, tmp_path: Path) -> None:
    with proxied_process(stack, tmp_path, "target_app.worker", queue_argument=True) as worker:
        busy = worker.queue.enqueue("time.sleep", 1.0)
        eventually(lambda: busy.get_status(refresh=True) == JobStatus.STARTED, "the job to start")
        worker.link(up=False)  # the link drops mid-job: its heartbeat after fails
        eventually(lambda: "RQ's loop quit" in worker.log.read_text(), "RQ's loop to quit")
        assert worker.proc.poll() is None, worker.log.read_text()
        worker.link(up=True)

        after = worker.queue.enqueue("time.sleep", 0)
        eventually(lambda: after.get_status(refresh=True) == JobStatus.FINISHED, "the next job")
        assert worker.proc.poll() is None  # the same process, working again


def test_the_scheduler_schedules_again_after_redis_comes_back(stack: Stack, tmp_path: Path) -> None:
    """RQ's scheduler loop raises on a Redis error: the process waits instead of dying with it."""
    with proxied_process(stack, tmp_path, "target_app.scheduler") as scheduler:
        lock = f"rq:scheduler-lock:{scheduler.queue.name}"
        eventually(lambda: scheduler.queue.connection.exists(lock), "the scheduler's lock")
        scheduler.link(up=False)
        eventually(
            lambda: "scheduling again once Redis answers" in scheduler.log.read_text(), "the error"
        )
        assert scheduler.proc.poll() is None, scheduler.log.read_text()
        scheduler.link(up=True)

        due = scheduler.queue.enqueue_in(timedelta(seconds=1), "time.sleep", 0)
        eventually(lambda: due.get_status(refresh=True) == JobStatus.QUEUED, "the due job enqueued")
        assert scheduler.proc.poll() is None  # the same process, scheduling again
