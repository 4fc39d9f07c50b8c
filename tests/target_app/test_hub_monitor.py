"""gevent hub blocking: counted per process, one JSON log line per block, no gevent report dump."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from rq.job import JobStatus

from chaos.stack.manager import Stack
from tests.conftest import eventually, free_port
from tests.target_app.metrics_text import samples, value
from tests.target_app.worker_process import running_worker

pytestmark = pytest.mark.slow

BLOCKS = "shop_gevent_hub_blocks_total"
BLOCKED_SECONDS = "shop_gevent_hub_blocked_seconds_total"
GEVENT_REPORT = "appears to be blocked"  # the first line of gevent's own report

# A gevent-patched process that blocks its hub twice: CPU work, then a sleep
# from the unpatched time module. Between blocks it yields to the hub.
BLOCKING_SCRIPT = """
from gevent import monkey

monkey.patch_all()

import time

import gevent
from gevent.monkey import get_original
from prometheus_client import generate_latest

from target_app.instrumentation import hub_monitor
from target_app.instrumentation.logs import configure_logging


def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


configure_logging(service="hub-test")
hub_monitor.start(process="hub-test", max_blocking_ms=50)
spin(0.6)
gevent.sleep(0.2)
get_original("time", "sleep")(0.6)
gevent.sleep(0.2)
print(generate_latest().decode())
"""


# The smallest app gunicorn can serve with the shop's settings, one route blocking the hub.
BLOCKING_WSGI = """
from gevent.monkey import get_original

from target_app.instrumentation.logs import configure_logging

configure_logging(service="app")


def app(environ, start_response):
    if environ["PATH_INFO"] == "/block":
        get_original("time", "sleep")(0.5)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


def blocked_lines(log: str) -> list[dict[str, Any]]:
    """Return the log's 'gevent hub blocked' records."""
    return [
        record
        for line in log.splitlines()
        if line.startswith("{") and (record := json.loads(line))["message"] == "gevent hub blocked"
    ]


def test_each_block_is_counted_and_logged_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", BLOCKING_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    log = done.stderr  # what the stack writes to the service's log

    # The service log holds JSON lines only: gevent printed no report.
    records = [json.loads(line) for line in log.splitlines()]
    assert GEVENT_REPORT not in log
    assert [r["message"] for r in records] == [
        "gevent hub monitor started",
        "gevent hub blocked",
        "gevent hub blocked",
    ]
    spin, sleep = blocked_lines(log)
    assert spin["where"].endswith("in spin")
    assert sleep["where"].endswith("in <module>")  # the C sleep has no Python frame
    assert all(r["process_label"] == "hub-test" and r["level"] == "WARNING" for r in (spin, sleep))
    assert value(done.stdout, BLOCKS, process="hub-test") == 2
    # Estimated from the monitor's looks; a loaded machine delays them, so a loose bound.
    blocked_s = value(done.stdout, BLOCKED_SECONDS, process="hub-test")
    assert blocked_s >= 0.6
    assert blocked_s == pytest.approx((spin["blocked_ms"] + sleep["blocked_ms"]) / 1000, abs=1e-3)


def test_a_job_that_blocks_the_hub_shows_in_its_worker(stack: Stack, tmp_path: Path) -> None:
    with running_worker(stack, tmp_path, FAULTYARD_HUB_MAX_BLOCKING_MS="100") as worker:
        # os.system waits in C: gevent does not patch it, so the hub is blocked.
        job = worker.queue.enqueue("os.system", "sleep 0.5")
        eventually(lambda: job.get_status(refresh=True) == JobStatus.FINISHED, "the job")
        eventually(lambda: value(worker.metrics(), BLOCKS, process=worker.name), "a block")
    # Read once the worker has stopped: every log line written, every counter final.
    text, log = worker.metrics(), worker.log.read_text()

    blocked_s = value(text, BLOCKED_SECONDS, process=worker.name)
    assert blocked_s >= 0.25  # of 0.5 s; estimated from looks that a loaded machine delays
    assert GEVENT_REPORT not in log
    lines = blocked_lines(log)
    assert len(lines) == value(text, BLOCKS, process=worker.name)
    assert sum(line["blocked_ms"] for line in lines) / 1000 == pytest.approx(blocked_s, abs=1e-3)
    assert all(line["process_label"] == worker.name for line in lines)


def test_a_request_that_blocks_the_hub_shows_in_its_gunicorn_worker(tmp_path: Path) -> None:
    (tmp_path / "blocking_wsgi.py").write_text(BLOCKING_WSGI)
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd()]),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "FAULTYARD_STATE_DIR": str(tmp_path),
        "FAULTYARD_HUB_MAX_BLOCKING_MS": "100",
    }
    argv = [
        sys.executable, "-m", "gunicorn", "--config", "python:target_app.gunicorn_conf",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "blocking_wsgi:app",
    ]  # fmt: skip
    log_path = tmp_path / "app.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(argv, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:

        def answers() -> bool:
            assert proc.poll() is None, log_path.read_text()
            try:
                return requests.get(f"http://127.0.0.1:{port}/", timeout=1).ok
            except requests.RequestException:
                return False

        eventually(answers, "gunicorn to answer")
        assert requests.get(f"http://127.0.0.1:{port}/block", timeout=10).ok
        requests.get(f"http://127.0.0.1:{port}/", timeout=5)  # the hub runs again
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(metrics_dir))
    text, log = generate_latest(registry).decode(), log_path.read_text()

    (process,) = {dict(labels)["process"] for labels in samples(text, BLOCKS)}
    assert process.startswith("app-worker-")
    assert value(text, BLOCKS, process=process) == 1
    assert value(text, BLOCKED_SECONDS, process=process) >= 0.25  # of 0.5 s
    assert GEVENT_REPORT not in log
    (line,) = blocked_lines(log)
    assert line["process_label"] == process
    assert "blocking_wsgi.py:" in line["where"] and line["where"].endswith(" in app")


def test_every_shop_process_of_the_stack_is_watched(stack: Stack) -> None:
    def watched() -> set[str]:
        text = requests.get(f"{stack.settings.app_url}/metrics", timeout=5).text
        return {dict(labels)["process"] for labels in samples(text, BLOCKS)}

    processes = watched()
    app_workers = {p for p in processes if p.startswith("app-worker-")}
    assert len(app_workers) >= stack.settings.app_workers
    assert {f"worker-{n}" for n in range(1, stack.settings.rq_workers + 1)} <= processes
    assert "relay" in processes
