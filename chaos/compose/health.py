"""Health checks of the compose stack's shop processes, by name rather than by PID.

The native checks find a worker by the PID the stack started; containers have
PIDs of their own, so a worker is found by its RQ name, the scheduler by its
registration. Containers run these as their Docker health check
(`python -m chaos.compose.health worker faultyard-worker-1 --redis-url ...`),
and `faultyard --target compose status` runs the same functions from the host.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis import Redis

CHECK_TIMEOUT_S = 2.0
RELAY_MAX_AGE_S = 5.0

# Redis, RQ and the shop's settings are imported by the checks that need them: an
# HTTP check, run by Docker every few seconds, then costs a bare interpreter start.


class Unhealthy(Exception):
    """A check failed; the message says what it saw."""


def _redis(url: str) -> Redis:
    from redis import Redis

    return Redis.from_url(
        url, socket_connect_timeout=CHECK_TIMEOUT_S, socket_timeout=CHECK_TIMEOUT_S
    )


def worker_registered(redis_url: str, name: str) -> None:
    """Find the RQ worker called `name` registered in Redis."""
    from redis.exceptions import RedisError
    from rq import Worker

    try:
        with _redis(redis_url) as client:
            names = {w.name for w in Worker.all(connection=client)}
    except RedisError as exc:
        raise Unhealthy(str(exc)) from None
    if name not in names:
        raise Unhealthy(f"no RQ worker named {name} registered")


def scheduler_registered(redis_url: str) -> None:
    """Check the RQ scheduler is registered and holds the payments queue's lock."""
    from redis.exceptions import RedisError
    from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler

    from target_app.public import SCHEDULER_NAME, load_settings

    queue = load_settings().payment_queue
    try:
        with _redis(redis_url) as client:
            registered = client.hget(SCHEDULER_KEY_TEMPLATE % SCHEDULER_NAME, "pid")
            holder = client.get(RQScheduler.get_locking_key(queue))
    except RedisError as exc:
        raise Unhealthy(str(exc)) from None
    if registered is None:
        raise Unhealthy(f"no RQ scheduler {SCHEDULER_NAME} registered")
    if holder is None or holder.decode() != SCHEDULER_NAME:
        raise Unhealthy(f"the scheduler does not hold the {queue} queue's lock")


def relay_beating(redis_url: str) -> None:
    """Check the outbox relay wrote its heartbeat in the last few seconds."""
    from redis.exceptions import RedisError

    from target_app.public import RELAY_HEARTBEAT_KEY

    try:
        with _redis(redis_url) as client:
            beat = client.get(RELAY_HEARTBEAT_KEY)
    except RedisError as exc:
        raise Unhealthy(str(exc)) from None
    if beat is None or time.time() - float(beat) > RELAY_MAX_AGE_S:
        raise Unhealthy("no recent relay heartbeat")


def http_ok(url: str, *, contains: str | None = None) -> None:
    """GET `url`: it must answer 200 (and hold `contains`, when given)."""
    try:
        with urllib.request.urlopen(url, timeout=CHECK_TIMEOUT_S) as response:
            body = response.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as exc:
        raise Unhealthy(f"{url}: {exc}") from None
    if contains is not None and contains not in body:
        raise Unhealthy(f"{url} answered without {contains!r}")


def main(argv: list[str] | None = None) -> None:
    """Run one check; exit 0 when healthy, 1 with the reason on stderr otherwise."""
    parser = argparse.ArgumentParser(prog="python -m chaos.compose.health")
    parser.add_argument("check", choices=["worker", "scheduler", "relay", "http"])
    parser.add_argument("target", nargs="?", help="worker: its name; http: the URL")
    parser.add_argument("--redis-url", default="redis://redis:6379/0")
    parser.add_argument("--contains", help="http: text the body must hold")
    args = parser.parse_args(argv)
    if args.check in ("worker", "http") and not args.target:
        parser.error(f"{args.check} needs a target")
    try:
        if args.check == "worker":
            worker_registered(args.redis_url, args.target)
        elif args.check == "scheduler":
            scheduler_registered(args.redis_url)
        elif args.check == "relay":
            relay_beating(args.redis_url)
        else:
            http_ok(args.target, contains=args.contains)
    except Unhealthy as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
