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


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the merged metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
