"""graceful-shutdown: what a deploy's SIGTERM does to an RQ worker's job, bug and fix.

The shop's side (a reload cutting requests in flight) is in tests/chaos/test_deploy.py,
on a private stack of its own.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from rq.job import Job, JobStatus

from chaos.stack.manager import Stack
from target_app.public import switches_file
from target_app.shutdown import SWITCH
from target_app.switches import SwitchBoard
from tests.conftest import eventually
from tests.target_app.worker_process import WorkerProcess, running_worker

pytestmark = pytest.mark.slow

#: Long enough for a signal to land while the job runs, short enough to wait for.
JOB_S = 2.0


def switched(folder: Path, on: bool) -> Path:
    """Set the bug switch in a state folder of the test's own; return the folder."""
    SwitchBoard(switches_file(folder)).set(SWITCH, on)
    return folder


def started_job(worker: WorkerProcess) -> Job:
    """Enqueue a job that sleeps JOB_S and wait until the worker runs it."""
    job = worker.queue.enqueue("time.sleep", JOB_S)
    eventually(lambda: job.get_status(refresh=True) == JobStatus.STARTED, "the job to start")
    return job


def in_started_registry(worker: WorkerProcess, job: Job) -> bool:
    return job.id in worker.queue.started_job_registry.get_job_ids(cleanup=False)


def test_bug_sigterm_mid_job_exits_at_once_and_abandons_the_job(
    stack: Stack, tmp_path: Path
) -> None:
    with running_worker(stack, switched(tmp_path, True)) as worker:
        job = started_job(worker)
        sent = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        assert worker.proc.wait(timeout=20) == 0, worker.log.read_text()
        assert time.monotonic() - sent < JOB_S, "it waited for the job"
        assert job.get_status(refresh=True) == JobStatus.STARTED
        assert in_started_registry(worker, job)
        assert "exiting at once" in worker.log.read_text()


def test_fix_sigterm_mid_job_finishes_the_job_first(stack: Stack, tmp_path: Path) -> None:
    with running_worker(stack, switched(tmp_path, False)) as worker:
        job = started_job(worker)
        worker.proc.send_signal(signal.SIGTERM)
        assert worker.proc.wait(timeout=20) == 0, worker.log.read_text()
        assert job.get_status(refresh=True) == JobStatus.FINISHED
        assert not in_started_registry(worker, job)


@pytest.mark.parametrize("bug", [False, True], ids=["fix", "bug"])
def test_a_killed_workers_job_is_requeued_by_its_successor_with_the_fix_only(
    stack: Stack, tmp_path: Path, bug: bool
) -> None:
    folder = switched(tmp_path, bug)
    with running_worker(stack, folder) as worker:
        job = started_job(worker)
        worker.proc.kill()  # SIGKILL: no handler runs, as when the kernel's OOM killer strikes
        worker.proc.wait(timeout=20)
    with running_worker(stack, folder, name=worker.name) as successor:
        if bug:
            # The successor works (a new job runs), and the old one stays abandoned.
            marker = successor.queue.enqueue("time.sleep", 0)
            eventually(
                lambda: marker.get_status(refresh=True) == JobStatus.FINISHED, "a new job to run"
            )
            assert job.get_status(refresh=True) == JobStatus.STARTED
        else:
            eventually(
                lambda: job.get_status(refresh=True) == JobStatus.FINISHED,
                "the abandoned job to run again",
            )
            assert not in_started_registry(successor, job)
            assert "abandoned by its dead predecessor" in successor.log.read_text()
