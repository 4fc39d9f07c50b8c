"""`make bench-calls`: Python calls a shop request makes, instrumentation on vs off.

The throughput bench (`make bench-overhead`) answers the question users ask,
but on a shared 2-core VM its ratio moves by 2-3 points between runs of the
same code. What tracked it across every change so far is the number of Python
function calls a request makes, which cProfile counts exactly: a change that
removes calls shows up here at once, without load or noise.

Each side runs in a process of its own, set up as a gunicorn worker is
(gevent patches first, buffered metric values, JSON logs to a file), against
one PostgreSQL and one Redis started for the run. Both sides serve the same
seeded sequence of requests straight through the WSGI app (gunicorn's own
calls are the same on both sides and are left out): first unprofiled, to warm
up pools and caches, then under cProfile. Each request's access line, which a
worker renders later in a batch, is rendered and counted with its request. The report lists calls a request on
each side and the functions that account for the difference. Results go to
results/bench-calls.{json,md}.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from chaos.bench.private_stack import private_stack, write_results

SIDES = ("on", "off")
#: Product ids every request picks from (the seed makes at least this many).
PRODUCT_IDS = range(1, 201)
RESTOCK = "UPDATE products SET stock = 1000000 WHERE id <= 200"
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def catalog_requests(rng: random.Random, count: int) -> Iterable[tuple[str, str, Any]]:
    """Yield the bench's catalog mix: a third catalog pages, two thirds product details."""
    for _ in range(count):
        if rng.random() < 1 / 3:
            yield "GET", f"/products?page={rng.randint(1, 10)}&per_page=20", None
        else:
            yield "GET", f"/products/{rng.choice(PRODUCT_IDS)}", None


def checkout_requests(rng: random.Random, count: int) -> Iterable[tuple[str, str, Any]]:
    """Yield carts, items and checkouts, three requests an order ("{cart}" filled in as served)."""
    for _ in range(count // 3):
        yield "POST", "/carts", None
        yield "POST", "/carts/{cart}/items", {"product_id": rng.choice(PRODUCT_IDS), "quantity": 1}
        yield "POST", "/carts/{cart}/checkout", None


WORKLOADS: dict[str, Callable[[random.Random, int], Iterable[tuple[str, str, Any]]]] = {
    "catalog": catalog_requests,
    "checkout": checkout_requests,
}


def serve_in_this_process(workload: str, count: int, seed: int) -> dict[str, Any]:
    """Build the shop as a gunicorn worker does and count the calls of `count` requests."""
    # Exactly as gunicorn's worker: gevent's patch first, buffered metric values,
    # deferred access lines, then the app. First of all: nothing may import before the patch
    # (the shop's public face imports neither psycopg nor SQLAlchemy).
    from target_app.public import (
        CUSTOMER_ID_BASE,
        DEMO_PASSWORD,
        customer_email,
        flush_deferred_log_lines,
        shop_wsgi_app,
    )

    app = shop_wsgi_app()

    import cProfile
    import pstats

    from werkzeug.test import EnvironBuilder

    cart: list[str] = [""]
    headers: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        if not status.startswith(("200", "201")):
            raise SystemExit(f"the shop answered {status}")

    def environ_of(method: str, path: str, body: Any) -> dict[str, Any]:
        path = path.replace("{cart}", cart[0])
        return EnvironBuilder(path=path, method=method, json=body, headers=headers).get_environ()

    def serve(environ: dict[str, Any], profiler: cProfile.Profile | None) -> None:
        if profiler is not None:
            profiler.enable()
        chunks = app(environ, start_response)
        body = b"".join(chunks)
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        # The worker renders access lines in batches, off the request path; counted here
        # with the request they belong to, and never by the flusher in another's window.
        flush_deferred_log_lines()
        if profiler is not None:
            profiler.disable()
        if environ["PATH_INFO"] == "/carts":
            cart[0] = str(json.loads(body)["id"])
        elif environ["PATH_INFO"] == "/auth/login":
            headers["Authorization"] = f"Bearer {json.loads(body)['access_token']}"

    if workload == "checkout":
        # A shopper's carts need its access token: one login, unmeasured.
        login = {"email": customer_email(CUSTOMER_ID_BASE + 1), "password": DEMO_PASSWORD}
        serve(environ_of("POST", "/auth/login", login), None)

    requests = WORKLOADS[workload]
    for method, path, body in requests(random.Random(seed + 1), count):  # warm-up, unmeasured
        serve(environ_of(method, path, body), None)
    profiler = cProfile.Profile()
    served = 0
    for method, path, body in requests(random.Random(seed), count):
        serve(environ_of(method, path, body), profiler)
        served += 1
    stats = pstats.Stats(profiler, stream=io.StringIO())
    per_function: Counter[str] = Counter()
    for (file, line, name), (_, calls, _, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        # Built-ins are named with their type's address ("... object at 0x7f..."): not comparable.
        per_function[f"{_short(file)}:{line}({_ADDRESS.sub('', name)})"] += calls
    return {"requests": served, "calls": stats.total_calls, "per_function": per_function}  # type: ignore[attr-defined]


def _short(file: str) -> str:
    """Return a module's path from its package root (site-packages or the project)."""
    for marker in ("/site-packages/", f"{Path.cwd()}/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def run_side(
    side: str, workload: str, count: int, seed: int, env: dict[str, str]
) -> dict[str, Any]:
    """Count one side's calls in a fresh process; its shop logs go to a file in the state folder."""
    env = {
        **env,
        "FAULTYARD_INSTRUMENTATION": "true" if side == "on" else "false",
        "PROMETHEUS_MULTIPROC_DIR": str(Path(env["FAULTYARD_STATE_DIR"]) / f"metrics-{side}"),
    }
    Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "chaos.bench.calls", "--serve", workload, "--requests", str(count), "--seed", str(seed)]  # fmt: skip
    log = Path(env["FAULTYARD_STATE_DIR"]) / f"shop-{side}-{workload}.log"
    with log.open("ab") as stderr:
        done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=stderr, check=False)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"the {side} side failed ({done.returncode}):\n{tail}")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def compare(on: dict[str, Any], off: dict[str, Any], top: int) -> dict[str, Any]:
    """Return calls a request on each side and the functions whose calls differ most."""
    per_request = {
        side: counts["calls"] / counts["requests"] for side, counts in (("on", on), ("off", off))
    }
    diff: Counter[str] = Counter(on["per_function"])
    diff.subtract(off["per_function"])
    largest = sorted(diff.items(), key=lambda item: -abs(item[1]))[:top]
    return {
        "calls_per_request": {side: round(value, 1) for side, value in per_request.items()},
        "added_per_request": round(per_request["on"] - per_request["off"], 1),
        "on_to_off_ratio": round(per_request["on"] / per_request["off"], 3),
        "largest_differences": [
            {"function": name, "calls_per_request": round(calls / on["requests"], 2)}
            for name, calls in largest
        ],
    }


def markdown(summary: dict[str, Any]) -> list[str]:
    lines = [
        "# Python calls a request, instrumentation on vs off",
        "",
        f"{summary['when']}; {summary['requests']} requests a workload, seed {summary['seed']}, "
        "counted with cProfile after a warm-up of as many. Command: `make bench-calls`.",
        "",
        "| workload | on | off | added | on / off |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, w in summary["workloads"].items():
        calls = w["calls_per_request"]
        lines.append(
            f"| {name} | {calls['on']} | {calls['off']} | {w['added_per_request']} "
            f"| {w['on_to_off_ratio']} |"
        )
    for name, w in summary["workloads"].items():
        lines += ["", f"## {name}: largest differences (calls a request, on minus off)", ""]
        lines += ["| function | calls |", "|---|---:|"]
        lines += [
            f"| `{d['function']}` | {d['calls_per_request']:+} |" for d in w["largest_differences"]
        ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m chaos.bench.calls",
        description="Python calls a shop request makes, all instrumentation on vs off "
        "(counted with cProfile; results in results/bench-calls.md).",
    )
    parser.add_argument("--requests", type=int, default=300, help="measured requests a workload")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--top", type=int, default=25, help="functions listed per workload")
    parser.add_argument(
        "--workload", choices=sorted(WORKLOADS), action="append", help="default: all"
    )
    parser.add_argument("--serve", choices=sorted(WORKLOADS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.requests < 3 or args.top < 1:
        parser.error("--requests ≥ 3 and --top ≥ 1")
    if args.serve:
        print(json.dumps(serve_in_this_process(args.serve, args.requests, args.seed)))
        return

    from sqlalchemy import create_engine, text

    workloads = {}
    with private_stack("postgres", "redis") as settings:
        env = settings.child_env()
        env.update(
            FAULTYARD_DATABASE_URL=settings.database_url, FAULTYARD_REDIS_URL=settings.redis_url
        )
        engine = create_engine(settings.database_url)
        for workload in args.workload or sorted(WORKLOADS):
            counts = {}
            for side in SIDES:
                with engine.begin() as conn:
                    conn.execute(text(RESTOCK))
                print(f"{workload}: counting the {side} side ...", flush=True)
                counts[side] = run_side(side, workload, args.requests, args.seed, env)
            workloads[workload] = compare(counts["on"], counts["off"], args.top)
            w = workloads[workload]
            print(
                f"{workload}: {w['calls_per_request']['on']} calls a request on, "
                f"{w['calls_per_request']['off']} off (+{w['added_per_request']}, "
                f"ratio {w['on_to_off_ratio']})",
                flush=True,
            )
        engine.dispose()
    summary = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "requests": args.requests,
        "seed": args.seed,
        "workloads": workloads,
    }
    print(f"results in {write_results('bench-calls', summary, markdown(summary))}")


if __name__ == "__main__":
    main()
