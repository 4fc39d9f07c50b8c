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

The shops are run by overhead_shops, loaded by overhead_load; overhead_report sums up.
"""

from __future__ import annotations

import argparse

from sqlalchemy import Engine, create_engine, text

from chaos.bench.overhead_load import side_by_side
from chaos.bench.overhead_report import WORKLOADS, Run, markdown, summarise
from chaos.bench.overhead_shops import SIDES, pin_workers, running_shops
from chaos.bench.private_stack import private_stack, write_results
from chaos.settings import StackSettings

RESTOCK = "UPDATE products SET stock = 1000000 WHERE id <= 200"
#: A first run per round and workload, not measured: connection pools, compiled statements.
WARM_UP_S = 3


def parse_args() -> argparse.Namespace:
    """Parse and check the bench's command line."""
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
    return args


def measure_round(
    n: int, settings: StackSettings, engine: Engine, args: argparse.Namespace
) -> list[Run]:
    """Start two fresh shops, then warm up and measure each workload on both at once."""
    runs: list[Run] = []
    state = settings.state_path
    with running_shops(settings, calibrate=args.calibrate) as (shops, urls):
        for workload, user_class in WORKLOADS.items():
            with engine.begin() as conn:
                conn.execute(text(RESTOCK))
            side_by_side(shops, urls, user_class, args.users, WARM_UP_S, state)
            pin_workers(shops)  # the helper threads the warm-up started float too
            measured = side_by_side(shops, urls, user_class, args.users, args.seconds, state)
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
    return runs


def main() -> None:
    """Run every round on a private PostgreSQL and Redis, then write and print the results."""
    args = parse_args()
    runs: list[Run] = []
    with private_stack("postgres", "redis") as settings:
        engine = create_engine(settings.database_url)
        for n in range(1, args.rounds + 1):
            # Fresh shops each round: where the kernel places their processes (which
            # share a core with which) moved whole runs by several points when two
            # shops lived through every round; new ones each round average that out.
            print(f"round {n}: starting both shops and warming them up ...", flush=True)
            runs += measure_round(n, settings, engine, args)
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
