"""A job stranded in RQ's intermediate queue by a dropped Redis link goes back on its queue."""

from __future__ import annotations

import time

from redis import Redis
from rq import Queue

from chaos.stack.manager import Stack
from target_app.worker import _requeue_stranded


def test_a_stranded_job_is_requeued_and_a_started_one_left_alone(stack: Stack) -> None:
    redis = Redis.from_url(stack.settings.redis_url)
    queue = Queue("stranded-test", connection=redis)
    queue.empty()
    redis.delete(queue.intermediate_queue.key)
    stranded = queue.enqueue("builtins.int", "1")
    started = queue.enqueue("builtins.int", "2")
    # What a worker's dequeue does (BLMOVE into the intermediate queue); the link then drops
    # before the first reaches the started registry; the second made it there.
    for _ in range(2):
        redis.lmove(queue.key, queue.intermediate_queue.key, "LEFT", "RIGHT")
    # The started registry holds one entry per execution: "JOB_ID:EXECUTION_ID", scored by expiry.
    redis.zadd(queue.started_job_registry.key, {f"{started.id}:execution-1": time.time() + 60})
    assert started.id in queue.started_job_registry
    assert queue.job_ids == [] and queue.intermediate_queue.get_job_ids() == [
        stranded.id,
        started.id,
    ]

    _requeue_stranded(queue, "test")

    assert queue.job_ids == [stranded.id]
    assert queue.intermediate_queue.get_job_ids() == [started.id]
    _requeue_stranded(queue, "test")  # nothing stranded any more: nothing changes
    assert queue.job_ids == [stranded.id]
    queue.empty()
    redis.delete(queue.intermediate_queue.key)
    redis.delete(queue.started_job_registry.key)
