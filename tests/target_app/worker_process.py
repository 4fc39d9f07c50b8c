"""An RQ worker process of a test's own: its queue, its log and its metric files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from redis import Redis
from rq import Queue, Worker

from chaos.stack.manager import Stack


@dataclass
class WorkerProcess:
    """A running `python -m target_app.worker NAME` and where to look at it."""

    name: str
    queue: Queue
    proc: subprocess.Popen[bytes]
    log: Path
    metrics_dir: Path

    def metrics(self) -> str:
        """Return the exposition text of the worker's multiprocess metric files."""
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(self.metrics_dir))
        return generate_latest(registry).decode()


@contextmanager
def running_worker(
    stack: Stack, folder: Path, name: str | None = None, **env: str
) -> Iterator[WorkerProcess]:
    """Start a worker on a queue of its own on the stack's Redis; kill it on exit.

    The queue is named after the worker; `name` starts a successor of a worker that died.
    """
    name = name or f"test-{uuid.uuid4().hex[:8]}"
    metrics_dir = folder / "metrics"
    metrics_dir.mkdir(exist_ok=True)
    log = folder / "worker.log"
    full_env = {
        **os.environ,
        "FAULTYARD_REDIS_URL": stack.settings.redis_url,
        "FAULTYARD_DATABASE_URL": stack.settings.database_url,
        "FAULTYARD_PAYMENT_QUEUE": name,
        "FAULTYARD_STATE_DIR": str(folder),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        **env,
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "target_app.worker", name],
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    redis = Redis.from_url(stack.settings.redis_url)
    try:
        deadline = time.monotonic() + 20
        while not any(w.name == name for w in Worker.all(connection=redis)):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "worker never registered"
            time.sleep(0.05)
        yield WorkerProcess(name, Queue(name, connection=redis), proc, log, metrics_dir)
    finally:
        if proc.poll() is None:
            proc.terminate()  # a warm shutdown unregisters the worker
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        redis.close()
