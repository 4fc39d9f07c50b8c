"""gunicorn settings for the shop. Never preload: psycopg must load after gevent patches."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import multiprocess

worker_class = "gevent"
worker_connections = 1000
preload_app = False
graceful_timeout = 5
accesslog = None
# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn): every
# shop of every stack on the machine would take it over from the others. Unused.
control_socket_disable = True


def post_worker_init(worker: Any) -> None:
    """Watch this worker's gevent hub for blocks, and put the shop's SIGTERM handler in front of
    gunicorn's (imported here: the worker is patched now)."""
    from target_app import shutdown
    from target_app.config import load_settings
    from target_app.instrumentation import hub_monitor
    from target_app.switches import SwitchBoard

    settings = load_settings()
    process = f"app-worker-{os.getpid()}"
    hub_monitor.start(process=process, max_blocking_ms=settings.hub_max_blocking_ms)
    switches = SwitchBoard(settings.switches_file, refresh_s=settings.switch_refresh_s)
    shutdown.wrap_sigterm(switches, process)


def worker_exit(server: Any, worker: Any) -> None:
    """Write this worker's last metric increments, access lines and spans on its way out
    (called in the worker)."""
    from target_app import shutdown

    shutdown.flush_telemetry()


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the merged metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
