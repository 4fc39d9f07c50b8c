"""RQ failure outcomes as metrics: an attempt that will be retried, or a job out of retries."""

from __future__ import annotations

from typing import Any

from rq.exceptions import DeserializationError
from rq.job import Job
from rq.queue import Queue
from rq.worker import BaseWorker

from target_app.instrumentation import metrics


def job_label(job: Job) -> str:
    """Return the job's function name as metrics label it (`function`) and spans name it."""
    try:
        func_name = job.func_name
    except DeserializationError:
        return "<undecodable>"
    return (func_name or "<unknown>").rsplit(".", 1)[-1]


#: The job's meta key holding which attempt it is at (set on each retry).
ATTEMPT_KEY = "faultyard_attempt"


class FailureMetricsMixin(BaseWorker):
    """Count each failed attempt as a retry or as a permanent failure, as RQ will decide, and
    observe how many attempts each job took once it is done (succeeded or out of retries).

    Mixed in before the worker class. RQ moves a job out of retries (or
    stopped on request) to the failed registry, and re-enqueues or schedules
    the others; the decision is taken here exactly as RQ's
    `handle_job_failure` takes it.
    """

    def handle_job_failure(
        self,
        job: Job,
        queue: Queue,
        started_job_registry: Any = None,
        exc_string: str = "",
    ) -> None:
        """Count the failure, then handle it as RQ does.

        Counted first: whoever sees the job in the failed registry (or its retry running)
        also sees it counted (a test read the metrics in between, once).
        """
        will_retry = job.should_retry and self._stopped_job_id != job.id
        attempts = attempts_of(job)
        counter = metrics.JOB_RETRIES if will_retry else metrics.JOBS_FAILED_PERMANENTLY
        counter.labels(job_label(job)).inc()
        if not will_retry:
            metrics.JOB_ATTEMPTS.labels(job_label(job)).observe(attempts)
        if will_retry:  # saved before RQ enqueues the retry, which another worker may take at once
            job.meta[ATTEMPT_KEY] = attempts + 1
            job.save_meta()
        super().handle_job_failure(
            job, queue=queue, started_job_registry=started_job_registry, exc_string=exc_string
        )

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry: Any) -> None:
        """Observe the attempts the job took, then handle the success as RQ does."""
        metrics.JOB_ATTEMPTS.labels(job_label(job)).observe(attempts_of(job))
        super().handle_job_success(job, queue, started_job_registry)


def attempts_of(job: Job) -> int:
    """Return the attempt the job is at: 1, plus one per retry (RQ counts only what is left)."""
    return int(job.meta.get(ATTEMPT_KEY, 1))
