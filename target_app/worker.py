"""An RQ worker for the shop's queues. Run as `python -m target_app.worker NAME`.

gevent patches the standard library first, before psycopg is imported, as in
every shop entry point. Jobs run in this process (SimpleWorker): one process,
one set of metric files, and the job's DB engine is reused between jobs.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from rq import Queue, SimpleWorker  # noqa: E402

from target_app.config import load_settings  # noqa: E402
from target_app.logs import configure_logging  # noqa: E402
from target_app.redis_client import make_redis  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Process jobs until SIGTERM (finishing the current one) with the scheduler on."""
    args = sys.argv[1:] if argv is None else argv
    name = args[0] if args else None
    settings = load_settings()
    configure_logging(service=name or "worker", level=settings.log_level)
    redis = make_redis(settings, read_timeout_s=None)
    queue = Queue(settings.payment_queue, connection=redis)
    worker = SimpleWorker([queue], connection=redis, name=name)
    # The scheduler enqueues delayed retries; without it they are never due.
    worker.work(with_scheduler=True, logging_level=settings.log_level)


if __name__ == "__main__":
    main()
