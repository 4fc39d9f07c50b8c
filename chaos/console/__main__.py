"""`python -m chaos.console`: serve the console with gunicorn (threads) on the given address.

The stack starts it (chaos/monitoring/services.py) with its own addresses on the command
line, so a stack on other ports (a test's, a second checkout's) gets its own console.
"""

from __future__ import annotations

import argparse
from typing import Any

from gunicorn.app.base import BaseApplication

from chaos.console.app import create_app
from chaos.settings import load_stack_settings


class ConsoleServer(BaseApplication):  # type: ignore[misc]
    """gunicorn's documented custom application: our options, our Flask app."""

    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chaos.console", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--prometheus-url", required=True, help="the stack's Prometheus")
    args = parser.parse_args(argv)
    settings = load_stack_settings()
    app = create_app(settings, prometheus_url=args.prometheus_url)
    host = f"[{args.host}]" if ":" in args.host else args.host
    options = {
        "bind": f"{host}:{args.port}",
        "worker_class": "gthread",
        "workers": 1,
        "threads": 8,
        "accesslog": "-",
        "graceful_timeout": 5,
        "proc_name": "faultyard-console",
    }
    ConsoleServer(app, options).run()


if __name__ == "__main__":
    main()
