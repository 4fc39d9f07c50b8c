"""An RQ worker for the shop's queues. Run as `python -m target_app.worker NAME`.

gevent patches the standard library first, before psycopg is imported, as in
every shop entry point. Jobs run in this process (SimpleWorker): one process,
one set of metric files, and the job's DB engine is reused between jobs.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import signal  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from rq import Queue, SimpleWorker  # noqa: E402
from rq.exceptions import StopRequested  # noqa: E402

from target_app.config import load_settings  # noqa: E402
from target_app.instrumentation import hub_monitor, tracing  # noqa: E402
from target_app.instrumentation.job_metrics import FailureMetricsMixin  # noqa: E402
from target_app.instrumentation.logs import configure_logging  # noqa: E402
from target_app.redis_client import make_redis  # noqa: E402


class GeventSimpleWorker(tracing.TracedJobsMixin, FailureMetricsMixin, SimpleWorker):
    """A SimpleWorker whose shutdown signals work under gevent.

    A plain signal handler runs in whichever greenlet is current, usually the
    hub while the worker waits on Redis, so RQ's StopRequested would never reach
    the work loop. gevent's own handlers run in a greenlet of their own; the
    stop is then thrown into the main greenlet, keeping RQ's semantics: an idle
    worker stops now, a busy one after its current job.
    """

    _signals_installed = False

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        # RQ registers the worker before it installs its handlers; a SIGTERM in
        # between would kill it uncleanly. Handlers first, then registration.
        self._install_signal_handlers()
        super().bootstrap(*args, **kwargs)

    def _install_signal_handlers(self) -> None:
        if self._signals_installed:
            return
        self._signals_installed = True
        main = gevent.getcurrent()

        def on_signal(signum: int, handler: Any) -> None:
            try:
                handler(signum, None)
            except StopRequested:
                gevent.kill(main, StopRequested)  # raised in main at its next switch

        for sig in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(sig, on_signal, sig, self.request_stop)


def main(argv: list[str] | None = None) -> None:
    """Process jobs until SIGTERM, finishing the current one first."""
    args = sys.argv[1:] if argv is None else argv
    name = args[0] if args else None
    service = (name or "worker").removeprefix("faultyard-")
    settings = load_settings()
    configure_logging(service=service, level=settings.log_level)
    tracing.setup(settings, service=service)
    hub_monitor.start(process=service, max_blocking_ms=settings.hub_max_blocking_ms)
    redis = make_redis(settings, read_timeout_s=None)
    queue = Queue(settings.payment_queue, connection=redis)
    worker = GeventSimpleWorker([queue], connection=redis, name=name)
    try:
        # Delayed retries are enqueued by the scheduler service (target_app/scheduler.py).
        worker.work(logging_level=settings.log_level)
    except StopRequested:
        # Stopped while starting, before RQ's loop could catch it: leave as it would.
        worker.register_death()
    finally:
        tracing.shutdown()  # export the last jobs' spans


if __name__ == "__main__":
    main()
