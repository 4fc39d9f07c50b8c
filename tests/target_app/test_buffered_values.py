"""Buffered multiprocess values: increments reach the metrics files in time, and are never lost.

Each case runs in a child process of its own: buffering applies to multiprocess
mode, which a process picks before it makes its first metric.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

PRELUDE = """
from gevent import monkey
monkey.patch_all()
import os, sys
import gevent
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector
from target_app.instrumentation import buffered_values
assert buffered_values.install()

def on_file(name, **labels):
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry.get_sample_value(name, labels) or 0.0
"""


def run_child(directory: Path, body: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    script = PRELUDE + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def on_files(directory: Path, name: str) -> float:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return registry.get_sample_value(name) or 0.0


def test_increments_wait_in_memory_until_a_flush_writes_them_once(tmp_path: Path) -> None:
    out = run_child(
        tmp_path,
        """
        c = Counter("orders", "orders")
        h = Histogram("wait_seconds", "wait", buckets=(0.1, 1))
        for _ in range(1000):
            c.inc()
            h.observe(0.05)
        print(on_file("orders_total"), c._value.get(), on_file("wait_seconds_count"))
        buffered_values.flush()
        print(on_file("orders_total"), on_file("wait_seconds_count"), on_file("wait_seconds_sum"))
        """,
    )
    before, after = out.splitlines()
    assert before.split() == ["0.0", "1000.0", "0.0"]  # nothing written, but counted
    written = [float(v) for v in after.split()]
    assert written[:2] == [1000.0, 1000.0]
    assert abs(written[2] - 50.0) < 1e-6


def test_the_flusher_writes_within_its_interval_without_being_asked(tmp_path: Path) -> None:
    out = run_child(
        tmp_path,
        """
        c = Counter("jobs", "jobs", ["outcome"])
        c.labels("ok").inc(3)
        gevent.sleep(buffered_values.FLUSH_INTERVAL_S * 3)
        print(on_file("jobs_total", outcome="ok"))
        """,
    )
    assert float(out) == 3.0


def test_what_is_pending_at_exit_is_written(tmp_path: Path) -> None:
    run_child(
        tmp_path,
        """
        c = Counter("exits", "exits")
        c.inc(7)
        """,
    )
    assert on_files(tmp_path, "exits_total") == 7.0


def test_a_gauge_set_replaces_what_was_added_before(tmp_path: Path) -> None:
    out = run_child(
        tmp_path,
        """
        g = Gauge("depth", "depth", multiprocess_mode="max")
        g.inc(5)
        g.set(2)
        print(on_file("depth"))
        buffered_values.flush()
        print(on_file("depth"), g._value.get())
        """,
    )
    assert out.split() == ["2.0", "2.0", "2.0"]


def test_a_forked_child_writes_only_its_own_increments(tmp_path: Path) -> None:
    run_child(
        tmp_path,
        """
        c = Counter("forks", "forks")
        c.inc(10)  # pending in the parent when it forks
        pid = os.fork()
        if pid == 0:
            c.inc(1)
            buffered_values.flush()
            os._exit(0)
        os.waitpid(pid, 0)
        buffered_values.flush()
        """,
    )
    files = sorted(p.name for p in tmp_path.glob("counter_*.db"))
    assert len(files) == 2
    assert on_files(tmp_path, "forks_total") == 11.0


def test_installing_after_the_shop_made_its_metrics_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    script = "import target_app.instrumentation.metrics\nfrom target_app.instrumentation import buffered_values\nbuffered_values.install()"
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "before target_app.instrumentation.metrics makes its metrics" in done.stderr
