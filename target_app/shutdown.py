"""What a shop process does with a deploy's SIGTERM: stop at once, or finish what it holds.

A deploy stops the old processes with SIGTERM (systemd, Kubernetes, a gunicorn
reload) and starts new ones. gunicorn's worker stops accepting and finishes the
requests it holds (up to `graceful_timeout`); RQ's worker finishes its current job
(a warm shutdown). With the switch `exit_at_once_on_sigterm` a handler of the
shop's own runs first: it writes the last metrics, log lines and spans, then ends
the process there and then, so every request in flight is cut (the client sees a
reset) and the running payment job is abandoned in RQ's started registry, its
order pending payment.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

import gevent

from target_app.switches import SwitchBoard

log = logging.getLogger(__name__)

SWITCH = "exit_at_once_on_sigterm"


def flush_telemetry() -> None:
    """Write this process's buffered metric increments, log lines and spans."""
    from target_app.instrumentation import buffered_values, log_handler, tracing

    buffered_values.flush()
    log_handler.flush_deferred()
    tracing.shutdown()


#: Set when a graceful shutdown begins: requests that wait (long-polls) answer now.
draining = threading.Event()


def quits_at_once(switches: SwitchBoard) -> bool:
    """Return whether SIGTERM ends the process at once (the bug) rather than gracefully."""
    return switches.is_on(SWITCH)


def exit_now(what: str) -> None:
    """Flush telemetry and end the process there and then (the bug's handler)."""
    # BUG: "flush and exit" makes deploys fast, and throws away what the process holds:
    # the requests in flight, the job it runs. os._exit, as sys.exit would in a sync
    # worker's main thread: nothing after this line runs, no finally, no atexit.
    log.warning("SIGTERM: flushing telemetry and exiting at once", extra={"stopping": what})
    flush_telemetry()
    os._exit(0)


def wrap_sigterm(switches: SwitchBoard, what: str) -> None:
    """Put the shop's SIGTERM handler in front of the one installed (gunicorn's graceful exit).

    FIX: with the switch off it marks the process draining (held long-polls answer at
    once) and hands the signal on: the server's own graceful shutdown runs, it stops
    accepting and finishes the requests in flight, then exits.
    """
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if quits_at_once(switches):
            # gevent runs a handler in the hub's loop, where nothing may block: the flush
            # (it joins the span exporter's thread) runs in a greenlet of its own.
            gevent.spawn(exit_now, what)
            return
        draining.set()
        if callable(previous):
            previous(signum, frame)
        else:  # the default action (or none was set): let it happen as it would have
            signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
