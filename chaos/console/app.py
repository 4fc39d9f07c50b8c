"""The console: the native stack's dashboards live in a browser, without Grafana or Docker.

`faultyard up` serves it on 127.0.0.1 (gunicorn, threads); `create_app()` reads the
stack's settings from the FAULTYARD_* environment like every other Faultyard process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, abort, jsonify, render_template, request, send_from_directory
from werkzeug.exceptions import HTTPException

from chaos.console.dashboards_api import api
from chaos.console.drill_api import drill_pages
from chaos.console.evidence_api import evidence
from chaos.console.runs_api import runs_api
from chaos.console.runs_pages import runs_pages
from chaos.dashboards.model import dashboard_names, load_dashboard
from chaos.settings import StackSettings, load_stack_settings

HERE = Path(__file__).resolve().parent
#: uPlot, installed from the npm registry by `make setup` (package.json beside this file).
UPLOT_DIST = HERE / "node_modules" / "uplot" / "dist"
VENDOR_FILES = {"uPlot.iife.min.js", "uPlot.min.css"}


def create_app(
    settings: StackSettings | None = None, *, prometheus_url: str | None = None
) -> Flask:
    """Return the console's Flask app for a stack (the environment's, by default)."""
    settings = settings or load_stack_settings()
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config["PROMETHEUS_URL"] = prometheus_url or settings.prometheus_url
    app.config["STACK"] = settings
    app.register_blueprint(api)
    app.register_blueprint(evidence)
    app.register_blueprint(drill_pages)
    app.register_blueprint(runs_api)
    app.register_blueprint(runs_pages)

    @app.get("/")
    def index() -> str:
        boards = [load_dashboard(name) for name in dashboard_names()]
        return render_template(
            "index.html", boards=boards, prometheus_url=app.config["PROMETHEUS_URL"]
        )

    @app.get("/d/<name>")
    def dashboard(name: str) -> str:
        if name not in dashboard_names():
            abort(404, description=f"no dashboard {name!r}")
        board = load_dashboard(name)
        boards = [load_dashboard(n) for n in dashboard_names()]
        return render_template("dashboard.html", board=board, boards=boards)

    @app.get("/vendor/<path:filename>")
    def vendor(filename: str) -> Any:
        if filename not in VENDOR_FILES or not (UPLOT_DIST / filename).is_file():
            abort(404, description=f"{filename}: run `make setup` (npm installs uPlot)")
        return send_from_directory(UPLOT_DIST, filename, max_age=3600)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok", "uplot": (UPLOT_DIST / "uPlot.iife.min.js").is_file()})

    @app.errorhandler(HTTPException)
    def error(exc: HTTPException) -> Any:
        # The API answers JSON, {"error": ...}, like the shop's; pages answer text.
        if request.path.startswith("/api/"):
            return jsonify({"error": exc.description}), exc.code
        return exc

    return app
