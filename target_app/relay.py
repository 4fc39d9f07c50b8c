"""The outbox relay process. Run as `python -m target_app.relay`."""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import signal  # noqa: E402
import threading  # noqa: E402

from target_app.config import load_settings  # noqa: E402
from target_app.instrumentation import hub_monitor, tracing  # noqa: E402
from target_app.instrumentation.logs import configure_logging  # noqa: E402
from target_app.outbox import run  # noqa: E402


def main() -> None:
    """Relay until SIGTERM or SIGINT."""
    settings = load_settings()
    configure_logging(service="relay", level=settings.log_level)
    tracing.setup(settings, service="relay")
    hub_monitor.start(process="relay", max_blocking_ms=settings.hub_max_blocking_ms)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        run(settings, stop)
    finally:
        tracing.shutdown()  # export the last relayed events' spans


if __name__ == "__main__":
    main()
