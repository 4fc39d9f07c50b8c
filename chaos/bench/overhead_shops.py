"""The two shops of `make bench-overhead`: started side by side, workers pinned, stopped by group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import requests

from chaos.ports import free_port
from chaos.settings import StackSettings

SIDES = ("on", "off")


def start_shop(
    settings: StackSettings, side: str, port: int, logs: Path, *, instrumented: bool
) -> subprocess.Popen[bytes]:
    """Start a gunicorn shop like the stack's, straight to PostgreSQL and Redis."""
    env = settings.child_env()
    env.update(
        FAULTYARD_DATABASE_URL=settings.database_url,
        FAULTYARD_REDIS_URL=settings.redis_url,
        FAULTYARD_INSTRUMENTATION="true" if instrumented else "false",
        PROMETHEUS_MULTIPROC_DIR=str(settings.state_path / f"metrics-{side}"),
    )
    Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable, "-m", "gunicorn", "--config", "python:target_app.gunicorn_conf",
        "--bind", f"127.0.0.1:{port}", "--workers", str(settings.app_workers),
        "--name", f"faultyard-bench-{side}", "target_app.wsgi:app",
    ]  # fmt: skip
    with (logs / f"shop-{side}.log").open("ab") as log:  # the shop keeps its own copy
        return subprocess.Popen(argv, env=env, stdout=log, stderr=log, start_new_session=True)


def pin_workers(shops: dict[str, subprocess.Popen[bytes]]) -> None:
    """Pin each shop's n-th worker to the n-th core (round robin); let its other threads float.

    Every core then runs one worker of each side (with as many workers as cores), and
    the scheduler shares a core equally between them. Only the thread that serves the
    requests is pinned: a worker's helper threads (gevent's monitor thread, in the
    instrumented shop) may run on any core, as they would unpinned. A thread starts
    with its creator's affinity, so call this again once every helper thread runs.
    """
    cores = sorted(os.sched_getaffinity(0))
    for proc in shops.values():
        workers = sorted(psutil.Process(proc.pid).children(), key=lambda w: w.pid)
        for n, worker in enumerate(workers):
            for thread in worker.threads():
                main = thread.id == worker.pid
                os.sched_setaffinity(thread.id, {cores[n % len(cores)]} if main else set(cores))


@contextmanager
def running_shops(
    settings: StackSettings, *, calibrate: bool = False
) -> Iterator[tuple[dict[str, subprocess.Popen[bytes]], dict[str, str]]]:
    """Start the on and off shops (with `calibrate`, two off shops), wait until both answer,
    pin their workers, and stop them (by process group)."""
    logs = settings.state_path / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    ports = {side: free_port() for side in SIDES}
    urls = {side: f"http://127.0.0.1:{port}" for side, port in ports.items()}
    shops: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for side, port in ports.items():
            instrumented = side == "on" and not calibrate
            shops[side] = start_shop(settings, side, port, logs, instrumented=instrumented)
        for side in SIDES:
            wait_healthy(urls[side], shops[side])
        wait_for_workers(shops, settings.app_workers)
        pin_workers(shops)
        yield shops, urls
    finally:
        stop_shops(shops)


def stop_shops(shops: dict[str, subprocess.Popen[bytes]]) -> None:
    """Stop every shop's process group: SIGINT, then SIGKILL after 10 s."""
    for proc in shops.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
    for proc in shops.values():
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for_workers(
    shops: dict[str, subprocess.Popen[bytes]], workers: int, timeout_s: float = 30
) -> None:
    """Wait until every shop has all its workers (one answering is not all of them booted)."""
    deadline = time.monotonic() + timeout_s
    while any(len(psutil.Process(p.pid).children()) < workers for p in shops.values()):
        if time.monotonic() > deadline:
            raise SystemExit(
                f"the shops did not start {workers} workers each within {timeout_s:.0f}s"
            )
        time.sleep(0.1)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """Wait until the shop at `url` answers /healthz; stop if it exits or takes too long."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the shop at {url} exited with {proc.returncode}; see its log")
        try:
            if requests.get(f"{url}/healthz", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the shop at {url} did not answer /healthz within {timeout_s:.0f}s")
