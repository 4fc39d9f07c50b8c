"""RQ's scheduler as a process of its own: it enqueues delayed retries when they are due.

Run as `python -m target_app.scheduler`. A worker started `with_scheduler`
forks it instead, and the fork inherits the worker's gevent signal watchers,
so a SIGTERM landing early in the child runs the worker's stop there. On its
own the scheduler needs neither gevent nor psycopg: it only talks to Redis.

RQ's scheduler loop raises on a Redis error (an outage, a dropped link) and
the process used to die with it: after a Redis outage no delayed retry was
ever enqueued again. Like the workers (target_app.worker), it now waits for
Redis and schedules again, as a supervisor would restart it.
"""

from __future__ import annotations

import logging
import signal
import time

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.scheduler import RQScheduler

from target_app.config import SCHEDULER_NAME, load_settings
from target_app.instrumentation.logs import configure_logging
from target_app.redis_client import make_redis

INTERVAL_S = 1
REDIS_RETRY_S = 1.0
#: How often a wait for Redis looks at whether SIGTERM or SIGINT came.
STOP_CHECK_S = 0.1

log = logging.getLogger("target_app.scheduler")


class Scheduler(RQScheduler):
    """RQ's scheduler, whose stop request (SIGTERM, SIGINT) its owner can see."""

    @property
    def stop_requested(self) -> bool:
        return bool(self._stop_requested)


def main() -> None:
    """Move due jobs (delayed retries) to their queue every second until SIGTERM or SIGINT."""
    settings = load_settings()
    configure_logging(service="scheduler", level=settings.log_level)
    redis = make_redis(settings, read_timeout_s=None)
    queue = Queue(settings.payment_queue, connection=redis)
    scheduler = Scheduler([queue], connection=redis, interval=INTERVAL_S, name=SCHEDULER_NAME)
    # RQ installs these in work(); a Redis down from the start must not make SIGTERM fatal.
    signal.signal(signal.SIGINT, scheduler.request_stop)
    signal.signal(signal.SIGTERM, scheduler.request_stop)
    while not scheduler.stop_requested:
        try:
            scheduler.acquire_locks()
            scheduler.work()  # returns on SIGTERM or SIGINT, its locks released
        except RedisError as exc:
            log.warning("scheduler: Redis error (%s); scheduling again once Redis answers", exc)
            _wait_for_redis(redis, scheduler)


def _wait_for_redis(redis: Redis, scheduler: Scheduler) -> None:
    """Wait until Redis answers again or a stop is requested."""
    while not scheduler.stop_requested:
        deadline = time.monotonic() + REDIS_RETRY_S
        while time.monotonic() < deadline and not scheduler.stop_requested:
            time.sleep(STOP_CHECK_S)
        try:
            redis.ping()
            return
        except RedisError:
            continue


if __name__ == "__main__":
    main()
