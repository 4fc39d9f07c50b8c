"""The load of `make bench-overhead`: Locust against both shops at once, and the CPU they spent."""

from __future__ import annotations

import csv
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

SHOPPERS = Path(__file__).with_name("overhead_shoppers.py")


def tree_cpu_s(pid: int) -> float:
    """Return the CPU seconds a process and its children (gunicorn and its workers) used."""
    root = psutil.Process(pid)
    total = 0.0
    for proc in (root, *root.children(recursive=True)):
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def locust(url: str, user_class: str, users: int, seconds: int, workdir: Path) -> dict[str, float]:
    """Run Locust headless against `url`; return the aggregated stats and its own CPU use."""
    prefix = workdir / f"{user_class}-{time.monotonic_ns()}"
    argv = [
        sys.executable, "-m", "locust", "-f", str(SHOPPERS), user_class, "--headless",
        "--host", url, "--users", str(users), "--spawn-rate", str(users),
        "--run-time", f"{seconds}s", "--csv", str(prefix), "--only-summary",
        "--loglevel", "WARNING", "--exit-code-on-error", "0",
    ]  # fmt: skip
    proc = psutil.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = time.monotonic()
    cpu = 0.0
    while proc.poll() is None:
        try:
            times = proc.cpu_times()
            cpu = times.user + times.system
        except psutil.NoSuchProcess:
            break
        time.sleep(0.5)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(
            f"locust failed ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}"
        )
    with open(f"{prefix}_stats.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    return {
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "rps": float(row["Requests/s"]),
        "p50_ms": float(row["50%"]),
        "p99_ms": float(row["99%"]),
        "loadgen_cpu_percent": round(100 * cpu / wall, 1),
    }


def side_by_side(
    shops: dict[str, subprocess.Popen[bytes]],
    urls: dict[str, str],
    user_class: str,
    users: int,
    seconds: int,
    workdir: Path,
) -> dict[str, tuple[dict[str, float], float]]:
    """Load every shop at once; return each one's Locust stats and CPU ms per request."""
    stats: dict[str, dict[str, float]] = {}
    failures: list[BaseException] = []

    def drive(side: str) -> None:
        try:
            stats[side] = locust(urls[side], user_class, users, seconds, workdir)
        except BaseException as exc:  # SystemExit from locust(): re-raised below
            failures.append(exc)

    cpu_before = {side: tree_cpu_s(proc.pid) for side, proc in shops.items()}
    threads = [threading.Thread(target=drive, args=(side,)) for side in shops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    measured = {}
    for side, proc in shops.items():
        cpu_ms = 1000 * (tree_cpu_s(proc.pid) - cpu_before[side])
        measured[side] = (stats[side], round(cpu_ms / max(1, int(stats[side]["requests"])), 3))
    return measured
