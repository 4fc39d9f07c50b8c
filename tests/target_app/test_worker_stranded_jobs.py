"""A job stranded in RQ's intermediate queue by a dropped Redis link goes back on its queue."""

from __future__ import annotations

import time
from collections.abc import Iterator

import gevent
import pytest
from redis import Redis
from rq import Queue
from rq.job import JobStatus

from chaos.stack.manager import Stack
from target_app.worker import STRANDED_GUARD_S, _requeue_stranded


@pytest.fixture
def queue(stack: Stack) -> Iterator[Queue]:
    """An empty queue of its own on the stack's Redis, emptied again afterwards."""
    queue = Queue("stranded-test", connection=Redis.from_url(stack.settings.redis_url))

    def empty() -> None:
        queue.empty()
        queue.connection.delete(queue.intermediate_queue.key, queue.started_job_registry.key)

    empty()
    yield queue
    empty()


def dequeue(queue: Queue) -> None:
    """What a worker's dequeue does first: BLMOVE the next job into the intermediate queue."""
    queue.connection.lmove(queue.key, queue.intermediate_queue.key, "LEFT", "RIGHT")


def add_execution(queue: Queue, job_id: str) -> str:
    """What a worker does next: an entry "JOB_ID:EXECUTION_ID" in the started registry."""
    entry = f"{job_id}:execution-1"
    queue.connection.zadd(queue.started_job_registry.key, {entry: time.time() + 60})
    return entry


def test_jobs_stranded_before_or_after_their_execution_entry_are_requeued(queue: Queue) -> None:
    # The link dropped right after the BLMOVE; and after the execution entry, before the
    # transaction that marks a job started and takes it off the intermediate queue.
    before_entry = queue.enqueue("builtins.int", "1")
    after_entry = queue.enqueue("builtins.int", "2")
    started = queue.enqueue("builtins.int", "3")
    for _ in (before_entry, after_entry, started):
        dequeue(queue)
    add_execution(queue, after_entry.id)
    add_execution(queue, started.id)
    started.set_status(JobStatus.STARTED)  # a worker got that far: RQ follows it, not us
    assert after_entry.id in queue.started_job_registry

    _requeue_stranded(queue, "test")

    assert queue.job_ids == [before_entry.id, after_entry.id]
    assert queue.intermediate_queue.get_job_ids() == [started.id]
    # The dead execution entry is gone, or RQ's maintenance would later call the job abandoned.
    assert after_entry.id not in queue.started_job_registry
    assert started.id in queue.started_job_registry
    _requeue_stranded(queue, "test")  # nothing stranded any more: nothing changes
    assert queue.job_ids == [before_entry.id, after_entry.id]


def test_a_job_a_live_worker_takes_on_meanwhile_is_left_to_it(queue: Queue) -> None:
    job = queue.enqueue("builtins.int", "1")
    dequeue(queue)
    sweep = gevent.spawn(_requeue_stranded, queue, "test")
    gevent.sleep(STRANDED_GUARD_S / 4)  # the sweep saw it once, and waits to see it again
    # Meanwhile the worker that dequeued it marks it started and takes it off the queue.
    queue.connection.lrem(queue.intermediate_queue.key, 1, job.id)
    job.set_status(JobStatus.STARTED)
    sweep.get(timeout=STRANDED_GUARD_S * 5)
    assert queue.job_ids == [] and queue.intermediate_queue.get_job_ids() == []
    assert job.get_status() == JobStatus.STARTED
