"""The console's logs and traces of a time range, read from a state folder written by the test.

No stack: the log files hold lines in each format the stack's processes write, and
the span files come from the shop's own exporter (ShopSpans), at times chosen here.
"""

from __future__ import annotations

import calendar
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

import chaos.logs
from chaos.console.app import create_app
from chaos.settings import load_stack_settings
from tests.chaos.test_traces_cli import ShopSpans

#: The start of the range every test asks for: 2026-12-06 23:33:20 UTC; it lasts a minute.
T = 1_796_600_000.0
END = T + 60
REQUEST_ID = "B4A97D8490A2B21D486D340F200C47CB"
MONTHS = calendar.month_abbr


class DeadlockDetected(Exception):
    """Stands for psycopg's, as the span records it."""


def _ms(t: float) -> str:
    return f"{round((t % 1) * 1000):03d}"


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{_ms(t)}Z"


def utc(t: float, pattern: str) -> str:
    return time.strftime(pattern, time.gmtime(t))


def local(t: float, pattern: str) -> str:
    return time.strftime(pattern, time.localtime(t))


def redis_time(t: float) -> str:
    moment = time.localtime(t)
    return f"{moment.tm_mday:02d} {MONTHS[moment.tm_mon]} {moment.tm_year} " + local(
        t, f"%H:%M:%S.{_ms(t)}"
    )


def json_line(t: float, level: str, message: str, **fields: Any) -> str:
    record = {"time": iso(t), "level": level, "logger": "target_app", "message": message}
    return json.dumps({**record, "service": "shop", **fields}, separators=(",", ":"))


def gunicorn(t: float, text: str) -> str:
    return f"{utc(t, '[%Y-%m-%d %H:%M:%S +0000]')} [16722] [INFO] {text}"


def postgres(t: float, pid: int, text: str) -> str:
    return f"{utc(t, '%Y-%m-%d %H:%M:%S')}.{_ms(t)} UTC [{pid}] {text}"


def write_logs(state: Path, checkout_trace: str) -> None:
    """Write a log file in each format, with lines before, within and after [T, END]."""
    files = {
        "app": [
            gunicorn(T - 30, "Starting gunicorn 27.0.1"),
            gunicorn(T + 1, "Booting worker with pid: 16729"),
            json_line(
                T + 5.25,
                "INFO",
                "request",
                request_id=REQUEST_ID.lower(),
                route="/carts/<int:cart_id>/checkout",
                status=500,
                duration_ms=312.5,
                trace_id=checkout_trace,
                span_id="00f067aa0ba902b7",
            ),
            json_line(T + 5.3, "ERROR", "checkout failed", trace_id=checkout_trace),
            "Traceback (most recent call last):",
            '  File "target_app/orders.py", line 42, in checkout',
            "psycopg.errors.DeadlockDetected: deadlock detected",
            json_line(T + 90, "INFO", "request", route="/products"),
        ],
        "postgres": [
            "The files belonging to this database system will be owned by user postgres.",
            postgres(T - 30, 100, "LOG:  database system is ready to accept connections"),
            postgres(T + 10.5, 101, "LOG:  checkpoint starting: time"),
            postgres(T + 20.25, 102, '[unknown] FATAL:  role "postgres" does not exist'),
            postgres(T + 30.125, 103, "psql ERROR:  deadlock detected"),
            postgres(T + 30.125, 103, "psql DETAIL:  Process 103 waits for ShareLock."),
            postgres(T + 30.125, 103, "psql STATEMENT:  UPDATE products SET stock = 0"),
        ],
        "prometheus": [
            f'ts={iso(T + 2.5)} caller=main.go:1 level=info msg="Server is ready."',
            f'ts={iso(T + 40)} caller=scrape.go:2 level=warn component="scrape manager" '
            'msg="Append failed" err="out of bounds"',
            f'ts={iso(T + 120)} caller=main.go:3 level=info msg="See you next time!"',
        ],
        "redis": [
            f"16664:M {redis_time(T + 3.125)} * Ready to accept connections",
            f"16664:M {redis_time(T + 4)} # WARNING Memory overcommit must be enabled!",
            f"16664:signal-handler ({int(T + 50)}) Received SIGTERM scheduling shutdown...",
        ],
        "exporter": [
            local(T + 6.5, "%Y-%m-%d %H:%M:%S,500") + " INFO chaos.exporter serving on :19100",
            local(T + 7, "%Y-%m-%d %H:%M:%S,000") + " WARNING chaos.exporter postgres is down",
        ],
        "rq-exporter": [
            local(T + 8, "[%Y-%m-%d %H:%M:%S]") + " [rq_exporter] [INFO]: Serving on :19726",
        ],
        "console": [
            utc(T + 9, '127.0.0.1 - - [%d/%b/%Y:%H:%M:%S +0000] "GET /healthz HTTP/1.1" 200 29')
        ],
    }
    folder = state / "logs"
    folder.mkdir(parents=True)
    for name, lines in files.items():
        path = folder / f"{name}.log"
        path.write_text("\n".join(lines) + "\n")
        os.utime(path, (T + 200, T + 200))  # last written after its last line


def write_spans(state: Path) -> dict[str, str]:
    """Write traces before, within and after [T, END]; return their ids by name."""
    spans = ShopSpans(state)
    spans.now = int(END * 1e9)  # ago_ms counts back from the range's end
    ids = {}
    for name, route, ago_ms, took_ms in (
        ("history", "/users/<int:user_id>/orders", 40_000, 800),
        ("fast", "/products", 30_000, 5),
        ("before", "/products/<int:product_id>", 90_000, 2000),
        ("after", "/products/<int:product_id>", -30_000, 900),
    ):
        request = spans.request(route, ago_ms=ago_ms, took_ms=took_ms)
        spans.end(request)
        ids[name] = spans.trace_id(request)
    checkout = spans.request(
        "/carts/<int:cart_id>/checkout", ago_ms=54_750, took_ms=300, method="POST"
    )
    locked = spans.statement(
        checkout,
        "SELECT products.id FROM products WHERE id = 7 FOR UPDATE",
        ago_ms=54_700,
        took_ms=240,
    )
    locked.record_exception(DeadlockDetected("deadlock detected"))
    locked.set_attribute("db.response.status_code", "40P01")
    spans.end(locked, checkout)
    ids["checkout"] = spans.trace_id(checkout)
    # Begun before the range, with a span within it: not a trace of the range.
    early = spans.request("/carts", ago_ms=61_000, took_ms=500, method="POST")
    late_child = spans.statement(early, "INSERT INTO outbox", ago_ms=59_800, took_ms=100)
    spans.end(early, late_child)
    ids["early"] = spans.trace_id(early)
    spans.provider.shutdown()
    return ids


@pytest.fixture
def state(tmp_path: Path) -> tuple[FlaskClient, dict[str, str]]:
    ids = write_spans(tmp_path)
    write_logs(tmp_path, ids["checkout"])
    return create_app(load_stack_settings(state_dir=tmp_path)).test_client(), ids


State = tuple[FlaskClient, dict[str, str]]


def logs(client: FlaskClient, **args: Any) -> dict[str, Any]:
    answer = client.get("/api/logs", query_string={"from": T, "to": END, **args})
    assert answer.status_code == 200, answer.json
    return dict(answer.json)


def error_of(client: FlaskClient, url: str, status: int, **args: Any) -> str:
    answer = client.get(url, query_string=args)
    assert answer.status_code == status, answer.json
    return str(answer.json["error"])


def test_every_format_is_read_with_its_time_and_only_the_range_is_answered(state: State) -> None:
    client, ids = state
    got = logs(client)
    lines = got["lines"]
    shown = [(ln["service"], ln["level"], ln["message"].splitlines()[0]) for ln in lines]
    assert shown == [
        ("app", "INFO", "Booting worker with pid: 16729"),
        ("prometheus", "INFO", "Server is ready."),
        ("redis", "INFO", "Ready to accept connections"),
        ("redis", "WARNING", "WARNING Memory overcommit must be enabled!"),
        ("app", "INFO", "request"),
        ("app", "ERROR", "checkout failed"),
        ("exporter", "INFO", "serving on :19100"),
        ("exporter", "WARNING", "postgres is down"),
        ("rq-exporter", "INFO", "Serving on :19726"),
        ("console", "INFO", shown[9][2]),
        ("postgres", "INFO", "checkpoint starting: time"),
        ("postgres", "ERROR", 'role "postgres" does not exist'),
        ("postgres", "ERROR", "deadlock detected"),
        ("prometheus", "WARNING", "Append failed"),
        ("redis", "INFO", "Received SIGTERM scheduling shutdown..."),
    ]
    offsets = [1, 2.5, 3.125, 4, 5.25, 5.3, 6.5, 7, 8, 9, 10.5, 20.25, 30.125, 40, 50]
    assert [ln["time"] for ln in lines] == [pytest.approx(T + s, abs=1e-6) for s in offsets]
    assert (
        shown[9][2]
        == "127.0.0.1 - - ["
        + utc(T + 9, "%d/%b/%Y:%H:%M:%S")
        + ' +0000] "GET /healthz HTTP/1.1" 200 29'
    )
    assert got["truncated"] is False and got["clipped"] == []
    # The stack's services in start order, whether or not they logged anything.
    assert {"postgres", "app", "relay", "worker-1", "console"} <= set(got["services"])
    assert got["services"].index("postgres") < got["services"].index("app")
    access = lines[4]
    assert access["trace_id"] == ids["checkout"]
    assert access["fields"]["request_id"] == REQUEST_ID.lower()
    assert access["fields"]["route"] == "/carts/<int:cart_id>/checkout"
    assert (access["fields"]["status"], access["fields"]["duration_ms"]) == (500, 312.5)
    assert not {"time", "level", "message", "trace_id"} & set(access["fields"])
    assert lines[11]["fields"] == {"pid": 102, "application": "[unknown]"}
    assert lines[13]["fields"] == {
        "caller": "scrape.go:2",
        "component": "scrape manager",
        "err": "out of bounds",
    }


def test_a_line_without_a_time_stays_with_the_line_before(state: State) -> None:
    client, _ = state
    lines = logs(client)["lines"]
    failed = next(ln for ln in lines if ln["message"].startswith("checkout failed"))
    assert failed["message"].splitlines() == [
        "checkout failed",
        "Traceback (most recent call last):",
        '  File "target_app/orders.py", line 42, in checkout',
        "psycopg.errors.DeadlockDetected: deadlock detected",
    ]
    # PostgreSQL's DETAIL and STATEMENT of an error are the error's.
    deadlock = next(ln for ln in lines if ln["message"].startswith("deadlock detected"))
    assert deadlock["message"].splitlines() == [
        "deadlock detected",
        "DETAIL:  Process 103 waits for ShareLock.",
        "STATEMENT:  UPDATE products SET stock = 0",
    ]
    assert not any(ln["message"].startswith(("DETAIL", "STATEMENT", "Traceback")) for ln in lines)
    # initdb's banner, before the file's first timed line, belongs to no line.
    assert not any("database system will be owned" in ln["message"] for ln in lines)


def test_service_level_and_text_filter_the_lines(state: State) -> None:
    client, ids = state
    pg = logs(client, service="postgres")["lines"]
    assert [(ln["service"], ln["level"]) for ln in pg] == [
        ("postgres", "INFO"),
        ("postgres", "ERROR"),
        ("postgres", "ERROR"),
    ]
    warnings = logs(client, level="warning")["lines"]
    assert [(ln["service"], ln["message"].splitlines()[0]) for ln in warnings] == [
        ("redis", "WARNING Memory overcommit must be enabled!"),
        ("app", "checkout failed"),
        ("exporter", "postgres is down"),
        ("postgres", 'role "postgres" does not exist'),
        ("postgres", "deadlock detected"),
        ("prometheus", "Append failed"),
    ]
    assert [ln["level"] for ln in logs(client, level="ERROR", service="app")["lines"]] == ["ERROR"]
    # Any case; the raw line is searched, so a request id or a trace id finds its lines.
    by_request = logs(client, q=REQUEST_ID)["lines"]
    assert [ln["message"] for ln in by_request] == ["request"]
    by_trace = logs(client, q=ids["checkout"].upper())["lines"]
    assert [ln["message"].splitlines()[0] for ln in by_trace] == ["request", "checkout failed"]
    # A traceback's text finds the line it belongs to.
    by_traceback = logs(client, q="orders.py")["lines"]
    assert [ln["message"].splitlines()[0] for ln in by_traceback] == ["checkout failed"]
    assert logs(client, q="no such text")["lines"] == []


def test_the_limit_keeps_the_newest_lines_and_says_it_truncated(state: State) -> None:
    client, _ = state
    every = logs(client)["lines"]
    newest = logs(client, limit=3)
    assert newest["lines"] == every[-3:]
    assert newest["truncated"] is True
    exact = logs(client, limit=len(every))
    assert (exact["lines"], exact["truncated"]) == (every, False)
    warnings = logs(client, level="WARNING")["lines"]
    newest_warnings = logs(client, level="WARNING", limit=2)
    assert (newest_warnings["lines"], newest_warnings["truncated"]) == (warnings[-2:], True)
    (last,) = logs(client, service="postgres", limit=1)["lines"]
    assert last["message"].startswith("deadlock detected")


def test_bad_arguments_are_400_and_say_why(state: State) -> None:
    client, _ = state
    unknown = error_of(client, "/api/logs", 400, service="nginx")
    assert unknown.startswith("unknown service 'nginx'; known: postgres, redis, ")
    assert "worker-1" in unknown and "relay" in unknown
    level = error_of(client, "/api/logs", 400, level="loud")
    assert level == "unknown level 'LOUD'; known: DEBUG, INFO, WARNING, ERROR, CRITICAL"
    for limit in ("0", "5001", "many"):
        assert "from 1 to 5000" in error_of(client, "/api/logs", 400, limit=limit)
    for url in ("/api/logs", "/api/traces"):
        assert error_of(client, url, 400, **{"from": "soon"}) == "from and to are Unix seconds"
        backwards = error_of(client, url, 400, **{"from": END, "to": T})
        assert backwards == "the range must end after it starts"
        wide = error_of(client, url, 400, **{"from": T - 15 * 86400, "to": T})
        assert wide == "the range is wider than 14 days"
    assert error_of(client, "/api/traces", 400, errors="yes") == "errors is 0 or 1"


def test_only_the_end_of_a_large_file_is_read(
    state: State, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = state
    path = tmp_path / "logs" / "scheduler.log"
    lines = [json_line(T + n / 10, "INFO", f"tick {n}") for n in range(200)]
    path.write_text("\n".join(lines) + "\n")
    assert len(logs(client, service="scheduler")["lines"]) == 200
    # The cut falls 5 bytes into line 180: the next whole line is the first one read.
    last_19_bytes = sum(len(line) + 1 for line in lines[181:])
    monkeypatch.setattr(chaos.logs, "MAX_READ_BYTES", last_19_bytes + 5)
    tail = logs(client, service="scheduler")
    assert [ln["message"] for ln in tail["lines"]] == [f"tick {n}" for n in range(181, 200)]
    assert tail["clipped"] == ["scheduler"]


def test_lines_logged_out_of_order_come_back_in_time_order(state: State, tmp_path: Path) -> None:
    client, _ = state
    # A worker's access lines reach the file in batches, after lines logged later.
    late_batch = [json_line(T + 12, "INFO", "job done"), json_line(T + 11.5, "INFO", "request")]
    (tmp_path / "logs" / "worker-1.log").write_text("\n".join(late_batch) + "\n")
    got = logs(client, service="worker-1")["lines"]
    assert [(ln["time"], ln["message"]) for ln in got] == [
        (T + 11.5, "request"),
        (T + 12, "job done"),
    ]
    (newest,) = logs(client, service="worker-1", limit=1)["lines"]
    assert newest["message"] == "job done"


def test_a_file_last_written_before_the_range_is_not_read(state: State, tmp_path: Path) -> None:
    client, _ = state
    path = tmp_path / "logs" / "console.log"
    os.utime(path, (T - 1, T - 1))
    assert logs(client, service="console")["lines"] == []


def traces(client: FlaskClient, **args: Any) -> dict[str, Any]:
    answer = client.get("/api/traces", query_string={"from": T, "to": END, **args})
    assert answer.status_code == 200, answer.json
    return dict(answer.json)


def test_the_slowest_traces_of_the_range_come_first_as_span_trees(state: State) -> None:
    client, ids = state
    got = traces(client)
    # Not the one begun before the range (its statement ran within it), nor those outside.
    assert [t["trace_id"] for t in got["traces"]] == [ids["history"], ids["checkout"], ids["fast"]]
    assert got["begun"] == 3 and got["note"] is None
    history, checkout, _ = got["traces"]
    assert (history["root"], history["root_duration_ms"]) == (
        "GET /users/<int:user_id>/orders -> 200",
        800.0,
    )
    assert history["start_time"] == pytest.approx(END - 40, abs=1e-6)
    assert (checkout["error"], checkout["services"]) == (True, ["shop"])
    (request,) = checkout["spans"]
    assert (request["name"], request["duration_ms"], request["offset_ms"]) == (
        "POST /carts/<int:cart_id>/checkout",
        300.0,
        0.0,
    )
    (locked,) = request["children"]
    assert locked["offset_ms"] == 50.0 and locked["duration_ms"] == 240.0
    assert locked["label"] == "SELECT … FROM products WHERE id = 7 FOR UPDATE"
    assert locked["error"] == "DeadlockDetected: deadlock detected [SQLSTATE 40P01]"
    assert locked["children"] == []


def test_trace_filters_and_limit(state: State) -> None:
    client, ids = state
    assert [t["trace_id"] for t in traces(client, errors=1)["traces"]] == [ids["checkout"]]
    assert [t["trace_id"] for t in traces(client, route="orders")["traces"]] == [ids["history"]]
    assert [t["trace_id"] for t in traces(client, limit=1)["traces"]] == [ids["history"]]
    wider = traces(client, **{"from": T - 100, "to": END + 100})
    assert [t["trace_id"] for t in wider["traces"]][:2] == [ids["before"], ids["after"]]


def test_a_trace_by_its_id(state: State) -> None:
    client, ids = state
    answer = client.get(f"/api/traces/{ids['checkout'].upper()}")
    assert answer.status_code == 200, answer.json
    assert answer.json["trace_id"] == ids["checkout"]
    assert answer.json["spans"][0]["children"][0]["error"].startswith("DeadlockDetected")
    missing = error_of(client, f"/api/traces/{'0' * 31}1", 404)
    assert missing.startswith(f"no trace {'0' * 31}1 in the span files")
    assert error_of(client, "/api/traces/not-a-trace", 400).endswith("(32 hex digits)")


def test_a_log_lines_trace_id_is_its_trace(state: State) -> None:
    client, _ = state
    (failed,) = logs(client, q="checkout failed")["lines"]
    answer = client.get(f"/api/traces/{failed['trace_id']}")
    assert answer.status_code == 200, answer.json
    assert answer.json["root"] == "POST /carts/<int:cart_id>/checkout -> 200"
    assert answer.json["start_time"] == pytest.approx(failed["time"] - 0.05, abs=1e-6)


def test_without_span_files_the_traces_say_why(tmp_path: Path) -> None:
    client = create_app(load_stack_settings(state_dir=tmp_path)).test_client()
    got = traces(client)
    assert got["traces"] == [] and "no trace files in" in got["note"]
    assert "no trace files in" in error_of(client, f"/api/traces/{'a' * 32}", 404)
    # No log folder yet: no lines, and the services still listed.
    empty = logs(client)
    assert empty["lines"] == [] and "app" in empty["services"]


def test_the_dashboard_page_has_the_section_and_its_script(state: State) -> None:
    client, _ = state
    page = client.get("/d/overview").get_data(as_text=True)
    assert 'id="evidence"' in page and "Logs and traces (the range shown)" in page
    assert "/static/evidence.js" in page


def test_the_console_loads_no_database_or_queue_client_at_start() -> None:
    probe = "import json, sys; import chaos.console.app; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = {name.split(".")[0] for name in json.loads(result.stdout)}
    assert not loaded & {"psycopg", "redis", "rq", "sqlalchemy", "gevent", "opentelemetry"}
