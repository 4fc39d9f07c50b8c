"""`make bench-overhead`: shop throughput with all instrumentation on vs off.

Two gunicorn shops with the same command line run side by side on one
PostgreSQL and one Redis; they differ only in FAULTYARD_INSTRUMENTATION
(metrics, traces, access logs, hub monitor). Each run drives one workload
(catalog reads, then checkouts) against both shops at once, with two
identical Locust processes, one per shop: both shops share the machine at
the same moment. (Alternating runs one shop at a time was tried first: on a
shared 2-core VM the same shop's CPU per request moved by up to 40 % between
consecutive runs, more than the difference being measured.) Each round's
on/off ratio is taken within the round; the result is the median over
rounds. Every round starts two fresh shops and warms each workload up with a
short unmeasured run: with the same two shops through all rounds, whole runs
of the same code moved by several points (0.871 and 0.902), as if where the
kernel had placed their processes decided it.

So each shop's workers are pinned one to a core, the on shop's first worker
with the off shop's first, and so on: every core is shared by one worker of
each side, which the kernel's scheduler gives equal time. Only the thread
that serves requests is pinned; a worker's helper threads (gevent's monitor
thread) run on any core, as they would unpinned. Measured with both
shops off (`--calibrate`, an A/A run: what the bench reads when there is no
difference), the per-round catalog ratio's standard deviation was 0.09
unpinned (6 rounds) and 0.018 pinned (8 rounds; checkout 0.014). Results go to
results/bench-overhead.{json,md} (with --calibrate, bench-overhead-calibration).
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import requests
from sqlalchemy import create_engine, text

from chaos.bench.private_stack import private_stack, write_results
from chaos.ports import free_port
from chaos.settings import StackSettings

SHOPPERS = Path(__file__).with_name("overhead_shoppers.py")
WORKLOADS = {"catalog": "CatalogShopper", "checkout": "CheckoutShopper"}
SIDES = ("on", "off")
RESTOCK = "UPDATE products SET stock = 1000000 WHERE id <= 200"
#: A first run per round and workload, not measured: connection pools, compiled statements.
WARM_UP_S = 3


@dataclass(frozen=True)
class Run:
    workload: str
    side: str
    round: int
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p99_ms: float
    loadgen_cpu_percent: float
    shop_cpu_ms_per_request: float


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


def summarise(runs: list[Run], args: argparse.Namespace) -> dict[str, object]:
    workloads = {}
    for workload in WORKLOADS:
        mine = {
            side: [r for r in runs if (r.workload, r.side) == (workload, side)] for side in SIDES
        }
        median = {side: statistics.median(r.rps for r in mine[side]) for side in SIDES}
        cpu = {
            side: statistics.median(r.shop_cpu_ms_per_request for r in mine[side]) for side in SIDES
        }
        # Both sides of a round ran at the same moment: compare within rounds.
        pairs = list(zip(mine["on"], mine["off"], strict=True))
        ratios = [on.rps / max(off.rps, 1e-9) for on, off in pairs]
        ratio = statistics.median(ratios)
        cpu_ratio = statistics.median(
            on.shop_cpu_ms_per_request / max(off.shop_cpu_ms_per_request, 1e-9) for on, off in pairs
        )
        workloads[workload] = {
            "median_rps": {side: round(v, 1) for side, v in median.items()},
            "on_to_off_ratio": round(ratio, 3),
            "on_to_off_ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
            "on_to_off_ratio_stdev": round(statistics.stdev(ratios), 3)
            if len(ratios) > 1
            else None,
            "throughput_loss_percent": round(100 * (1 - ratio), 1),
            # What each request cost the shop: the other half of the picture.
            "median_shop_cpu_ms_per_request": {side: round(v, 3) for side, v in cpu.items()},
            "shop_cpu_on_to_off_ratio": round(cpu_ratio, 3),
            "failures": sum(r.failures for r in runs if r.workload == workload),
        }
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{os.cpu_count()} cores",
        "load": (
            f"two Locust processes at once (one per shop), FastHttpUser, {args.users} users "
            f"each, no think time, {args.seconds} s a run"
        ),
        "rounds": args.rounds,
        # A/A: both shops uninstrumented, so every ratio shows the bench's own noise.
        "calibration": args.calibrate,
        "workloads": workloads,
        "runs": [asdict(r) for r in runs],
    }


def markdown(summary: dict[str, object]) -> list[str]:
    lines = [
        "# Instrumentation overhead"
        + (" (calibration: both shops off)" if summary["calibration"] else ""),
        "",
        f"{summary['when']}, {summary['machine']}; {summary['load']}; "
        f"{summary['rounds']} rounds, two fresh shops each round, both loaded at once, each "
        "core shared by one worker of each shop; ratios are medians of each round's on/off. "
        + (
            "Command: `make bench-overhead ARGS=--calibrate` (the side called on is "
            "uninstrumented too)."
            if summary["calibration"]
            else "Command: `make bench-overhead`."
        ),
        "",
        "| workload | on (req/s) | off (req/s) | on / off | range over rounds | stdev "
        "| throughput lost | shop CPU ms/request on | off | on / off |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name, w in summary["workloads"].items():  # type: ignore[attr-defined]
        cpu = w["median_shop_cpu_ms_per_request"]
        lines.append(
            f"| {name} | {w['median_rps']['on']} | {w['median_rps']['off']} "
            f"| {w['on_to_off_ratio']} | {w['on_to_off_ratio_range'][0]} to "
            f"{w['on_to_off_ratio_range'][1]} | {'n/a' if w['on_to_off_ratio_stdev'] is None else w['on_to_off_ratio_stdev']} "
            f"| {w['throughput_loss_percent']} % "
            f"| {cpu['on']} | {cpu['off']} | {w['shop_cpu_on_to_off_ratio']} |"
        )
    lines += [
        "",
        "| workload | side | round | req/s | p50 ms | p99 ms | failures | Locust CPU % "
        "| shop CPU ms/request |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in summary["runs"]:  # type: ignore[attr-defined]
        lines.append(
            f"| {r['workload']} | {r['side']} | {r['round']} | {r['rps']:.0f} | {r['p50_ms']:.0f} "
            f"| {r['p99_ms']:.0f} | {r['failures']} | {r['loadgen_cpu_percent']} "
            f"| {r['shop_cpu_ms_per_request']} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10, help="per Locust run")
    parser.add_argument("--users", type=int, default=16, help="concurrent Locust users")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="A/A run: both shops uninstrumented, to read the bench's own noise "
        "(results/bench-overhead-calibration.*)",
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.seconds < 2 or args.users < 1:
        parser.error("--rounds ≥ 1, --seconds ≥ 2 and --users ≥ 1")

    runs: list[Run] = []
    with private_stack("postgres", "redis") as settings:
        state = settings.state_path
        engine = create_engine(settings.database_url)
        for n in range(1, args.rounds + 1):
            # Fresh shops each round: where the kernel places their processes (which
            # share a core with which) moved whole runs by several points when two
            # shops lived through every round; new ones each round average that out.
            print(f"round {n}: starting both shops and warming them up ...", flush=True)
            with running_shops(settings, calibrate=args.calibrate) as (shops, urls):
                for workload, user_class in WORKLOADS.items():
                    with engine.begin() as conn:
                        conn.execute(text(RESTOCK))
                    side_by_side(shops, urls, user_class, args.users, WARM_UP_S, state)
                    pin_workers(shops)  # the helper threads the warm-up started float too
                    measured = side_by_side(
                        shops, urls, user_class, args.users, args.seconds, state
                    )
                    for side in SIDES:
                        stats, per_request = measured[side]
                        run = Run(workload, side, n, **stats, shop_cpu_ms_per_request=per_request)  # type: ignore[arg-type]
                        runs.append(run)
                        print(
                            f"round {n} {workload:<8} {side:<3} {run.rps:7.0f} req/s  "
                            f"p99 {run.p99_ms:5.0f} ms  failures {run.failures}  "
                            f"locust cpu {run.loadgen_cpu_percent}%  "
                            f"shop cpu {run.shop_cpu_ms_per_request} ms/request",
                            flush=True,
                        )
        engine.dispose()

    summary = summarise(runs, args)
    name = "bench-overhead-calibration" if args.calibrate else "bench-overhead"
    results = write_results(name, summary, markdown(summary))
    for name, w in summary["workloads"].items():  # type: ignore[attr-defined]
        print(
            f"{name}: on/off throughput ratio {w['on_to_off_ratio']} ({w['median_rps']}); "
            f"shop CPU per request on/off {w['shop_cpu_on_to_off_ratio']}"
        )
    print(f"results in {results}")


if __name__ == "__main__":
    main()
