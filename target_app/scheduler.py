"""RQ's scheduler as a process of its own: it enqueues delayed retries when they are due.

Run as `python -m target_app.scheduler`. A worker started `with_scheduler`
forks it instead, and the fork inherits the worker's gevent signal watchers,
so a SIGTERM landing early in the child runs the worker's stop there. On its
own the scheduler needs neither gevent nor psycopg: it only talks to Redis.
"""

from __future__ import annotations

from rq import Queue
from rq.scheduler import RQScheduler

from target_app.config import SCHEDULER_NAME, load_settings
from target_app.instrumentation.logs import configure_logging
from target_app.redis_client import make_redis

INTERVAL_S = 1


def main() -> None:
    """Move due jobs (delayed retries) to their queue every second until SIGTERM or SIGINT."""
    settings = load_settings()
    configure_logging(service="scheduler", level=settings.log_level)
    redis = make_redis(settings, read_timeout_s=None)
    queue = Queue(settings.payment_queue, connection=redis)
    scheduler = RQScheduler([queue], connection=redis, interval=INTERVAL_S, name=SCHEDULER_NAME)
    scheduler.acquire_locks()
    scheduler.work()  # stops cleanly (locks released) on SIGTERM or SIGINT


if __name__ == "__main__":
    main()
