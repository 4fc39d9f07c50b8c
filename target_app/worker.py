"""An RQ worker for the shop's queues. Run as `python -m target_app.worker NAME`.

gevent patches the standard library first, before psycopg is imported, as in
every shop entry point. Jobs run in this process (SimpleWorker): one process,
one set of metric files, and the job's DB engine is reused between jobs.

RQ's work loop quits on a Redis error (an outage, a dropped link). This
process then waits for Redis and works again, as a supervisor would restart
it, so jobs enqueued during an outage run as soon as Redis is back.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import contextlib  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from redis import Redis  # noqa: E402
from redis.exceptions import RedisError  # noqa: E402
from rq import Queue, SimpleWorker  # noqa: E402
from rq.exceptions import StopRequested  # noqa: E402
from rq.job import JobStatus  # noqa: E402

from target_app import shutdown  # noqa: E402
from target_app.config import load_settings  # noqa: E402
from target_app.instrumentation import hub_monitor, tracing  # noqa: E402
from target_app.instrumentation.job_metrics import FailureMetricsMixin  # noqa: E402
from target_app.instrumentation.logs import configure_logging  # noqa: E402
from target_app.jobs import switches  # noqa: E402
from target_app.redis_client import make_redis  # noqa: E402

log = logging.getLogger("target_app.worker")
REDIS_RETRY_S = 1.0
#: A job still in RQ's intermediate queue on two looks this far apart, and not started, was
#: stranded there by a dropped link (a healthy worker moves it on within milliseconds).
STRANDED_GUARD_S = 2.0


class GeventSimpleWorker(tracing.TracedJobsMixin, FailureMetricsMixin, SimpleWorker):
    """A SimpleWorker whose shutdown signals work under gevent.

    A plain signal handler runs in whichever greenlet is current, usually the
    hub while the worker waits on Redis, so RQ's StopRequested would never reach
    the work loop. gevent's own handlers run in a greenlet of their own; the
    stop is then thrown into the main greenlet, keeping RQ's semantics: an idle
    worker stops now, a busy one after its current job.
    """

    _signals_installed = False
    #: Set by SIGTERM or SIGINT: the worker is to stop, not to work again after a Redis error.
    stop_signalled = False

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        # RQ registers the worker before it installs its handlers; a SIGTERM in
        # between would kill it uncleanly. Handlers first, then registration.
        self._install_signal_handlers()
        super().bootstrap(*args, **kwargs)

    def register_birth(self) -> None:
        # The stack runs one process per worker name, so a live-looking registration
        # under this name is a dead predecessor's (killed, or gone while Redis was
        # unreachable). RQ would refuse to start until its key expired (minutes):
        # mark it dead, then register.
        abandoned = None
        if self.connection.exists(self.key) and not self.connection.hexists(self.key, "death"):
            self.log.warning("worker %s: clearing the registration a dead process left", self.name)
            abandoned = self.connection.hget(self.key, "current_job")
            self.register_death()
        super().register_birth()
        if abandoned and not shutdown.quits_at_once(switches()):
            # FIX: the job the dead process was running goes back to the queue now, not
            # when RQ's maintenance finds it abandoned (its timeout later, then failed).
            requeue_abandoned(self.queues, as_bytes(abandoned).decode(), self.name)

    def _install_signal_handlers(self) -> None:
        if self._signals_installed:
            return
        self._signals_installed = True
        main = gevent.getcurrent()

        def on_signal(signum: int, handler: Any) -> None:
            self.stop_signalled = True
            if signum == signal.SIGTERM and shutdown.quits_at_once(switches()):
                shutdown.exit_now(self.name)  # the bug: gone here, the job abandoned
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
        while True:
            try:
                # Delayed retries are enqueued by the scheduler service (target_app/scheduler.py).
                worker.work(logging_level=settings.log_level)
            except RedisError as exc:  # from RQ's teardown, when Redis is what stopped the loop
                log.error("worker %s: Redis error on the way out: %s", worker.name, exc)
            if worker.stop_signalled:
                break
            _wait_for_redis(redis, worker.name)
            with contextlib.suppress(RedisError):  # Redis gone again: the next round retries
                _requeue_stranded(queue, worker.name)
    except StopRequested:
        # Stopped while starting (or waiting for Redis), before RQ's loop could catch it.
        with contextlib.suppress(RedisError):
            worker.register_death()
    finally:
        tracing.shutdown()  # export the last jobs' spans


def _wait_for_redis(redis: Redis, name: str) -> None:
    """Wait until Redis answers again (RQ's loop quit on a Redis error); SIGTERM still stops."""
    log.warning("worker %s: RQ's loop quit; working again once Redis answers", name)
    while True:
        gevent.sleep(REDIS_RETRY_S)  # never a busy loop, whatever made RQ quit
        try:
            redis.ping()
            return
        except RedisError:
            continue


def _requeue_stranded(queue: Queue, name: str) -> None:
    """Put back on the queue the jobs a dropped Redis link stranded in RQ's intermediate queue.

    RQ 2 takes a job in three steps: BLMOVE into the intermediate queue; an execution
    entry in the started registry; then, in one transaction, status "started" and off the
    intermediate queue. A link dropped between them leaves the job "queued" in the
    intermediate queue (with or without an execution entry) and no worker on it: RQ
    recovers it only in its maintenance (every 10 minutes, a minute after it first saw it),
    and an order would wait that long for its payment. A job seen there twice, 2 s apart,
    still "queued", is stranded; only the worker whose LREM takes it enqueues it again, and
    drops its dead execution entries (else RQ's maintenance would later call the job
    abandoned and run its failure callback).
    """
    intermediate = queue.intermediate_queue
    first = set(intermediate.get_job_ids())
    if not first:
        return
    gevent.sleep(STRANDED_GUARD_S)
    for job_id in intermediate.get_job_ids():
        if job_id not in first:
            continue
        job = queue.fetch_job(job_id)
        if job is not None and job.get_status(refresh=False) != JobStatus.QUEUED:
            continue  # a worker started it: RQ's own bookkeeping follows it
        if not queue.connection.lrem(intermediate.key, 1, job_id):
            continue  # another worker took it
        _drop_executions(queue, job_id)
        if job is not None:
            queue.enqueue_job(job)
            log.warning(
                "worker %s: requeued job %s, stranded by a dropped Redis link", name, job_id
            )


def requeue_abandoned(queues: list[Queue], job_id: str, name: str) -> None:
    """Put back at the front of its queue a job a dead worker left started, if it still is.

    Capturing a payment twice is safe (a paid order is answered at once), so a job the
    dead process may have half done runs again from the start.
    """
    for queue in queues:
        job = queue.fetch_job(job_id)
        if job is None or job.origin != queue.name:
            continue
        if job.get_status(refresh=False) != JobStatus.STARTED:
            return  # finished after all, or already dealt with
        _drop_executions(queue, job_id)
        queue.enqueue_job(job, at_front=True)
        log.warning("worker %s: requeued job %s, abandoned by its dead predecessor", name, job_id)
        return


def _drop_executions(queue: Queue, job_id: str) -> None:
    """Remove a job's entries ("JOB_ID:EXECUTION_ID") from the queue's started registry."""
    key = queue.started_job_registry.key
    prefix = f"{job_id}:".encode()
    entries = [e for e in queue.connection.zrange(key, 0, -1) if as_bytes(e).startswith(prefix)]
    if entries:
        queue.connection.zrem(key, *entries)


def as_bytes(value: bytes | str) -> bytes:
    """Return a Redis reply as bytes, whether the client decodes replies or not."""
    return value if isinstance(value, bytes) else value.encode()


if __name__ == "__main__":
    main()
