"""deploy: a release rolled out to one service under load, the way a deploy tool does it.

`app`: gunicorn's graceful reload (SIGHUP: new workers start, each old one gets
SIGTERM and has `graceful_timeout` to finish its requests). `worker-N` (an RQ
worker): SIGTERM once it is running a job (a deploy does not wait for a quiet
moment; this one waits up to BUSY_WAIT_S for a busy one, so the signal always
finds work in hand), SIGKILL if it is still there after STOP_GRACE_S, as
systemd's and Kubernetes' stop timeouts do, then started again. Nothing stays to
undo: the service runs the same code before and after.
"""

from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from chaos.errors import StackError
from chaos.faults.base import FaultKind, register
from chaos.stack import process

if TYPE_CHECKING:
    from chaos.faults.context import FaultContext

#: How long a worker's deploy waits for the worker to be running a job before it goes ahead.
BUSY_WAIT_S = 5.0
#: How long a stopped worker may take to finish its job before it is killed.
STOP_GRACE_S = 10.0
POLL_S = 0.02
DEPLOYABLE = r"^(app|worker-[0-9]+)$"


@register
class Deploy(FaultKind):
    """A release rolled out to one service: the shop reloaded, or an RQ worker stopped and started."""

    kind: Literal["deploy"] = "deploy"
    service: str = Field(pattern=DEPLOYABLE)

    def describe(self) -> str:
        """Return one line saying what this fault does."""
        if self.service == "app":
            return "deploy app: a graceful reload (SIGTERM to each old gunicorn worker)"
        return f"deploy {self.service}: SIGTERM while it runs a job, then started again"

    def apply(self, ctx: FaultContext) -> str:
        """Roll the release out to the service; see the module's docstring."""
        if self.service == "app":
            state = ctx.stack.reload("app")
            return f"deployed app: reloaded in {state.ready_after_s:.1f}s"
        if ctx.stack.settings.target != "native":
            raise StackError(
                f"a deploy of {self.service} signals its process: the native stack's only "
                f"(under compose: `docker compose restart {self.service}`)"
            )
        record = ctx.stack.running(self.service)
        if record is None:
            raise StackError(f"{self.service} does not run (`faultyard up` starts it)")
        busy = wait_until_busy(ctx.stack.settings.redis_url, f"faultyard-{self.service}")
        started = time.monotonic()
        killed = process.stop(record, sig=signal.SIGTERM, timeout_s=STOP_GRACE_S)
        stopped_after = time.monotonic() - started
        ctx.stack.up()  # starts what is not running: this worker
        return (
            f"deployed {self.service}: SIGTERM {'mid-job' if busy else 'while idle'}, "
            f"{'killed after' if killed else 'gone in'} {stopped_after:.1f}s, started again"
        )

    def revert(self, ctx: FaultContext) -> str:
        """Nothing to undo; a service a deploy left stopped (the run died mid-way) starts again."""
        ctx.stack.up()
        return f"nothing to undo for a deploy of {self.service}"


def wait_until_busy(redis_url: str, worker_name: str, timeout_s: float = BUSY_WAIT_S) -> bool:
    """Wait until the RQ worker says it is busy (running a job); False if not within the timeout."""
    # Imported here: the scenario format imports every fault kind, and `faultyard list` or the
    # console must not load a Redis client to read the catalogue.
    from redis import Redis
    from redis.exceptions import RedisError

    deadline = time.monotonic() + timeout_s
    client = Redis.from_url(redis_url, socket_timeout=1.0)
    try:
        while time.monotonic() < deadline:
            try:
                if client.hget(f"rq:worker:{worker_name}", "state") == b"busy":
                    return True
            except RedisError:
                return False
            time.sleep(POLL_S)
        return False
    finally:
        client.close()
