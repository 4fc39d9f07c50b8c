"""The services of the native stack, declared once. Adding a service is adding a record here."""

from __future__ import annotations

import shutil
import signal
import sys

from chaos.monitoring.services import monitoring_services
from chaos.settings import StackSettings
from chaos.stack import health, postgres, shop_commands
from chaos.stack.service import Service, program
from chaos.toxiproxy import ToxiproxyClient
from target_app.public import load_settings as load_shop_settings


def _init_postgres(settings: StackSettings) -> None:
    postgres.init_cluster(settings, log_file=settings.state_path / "logs" / "postgres.log")


def _migrate_and_seed(settings: StackSettings) -> None:
    """Migrate and seed the shop's database, unless this code already did (a running stack).

    The mark is the database's comment: it goes with the database, so a database
    dropped and made again is migrated and seeded again; a failed seed leaves no mark.
    """
    postgres.ensure_database(settings)
    mark = shop_commands.bootstrap_fingerprint(settings.seed_products)
    if postgres.database_comment(settings) == mark:
        return
    # The shop's own commands, straight to PostgreSQL; not a shop process (no metrics folder).
    shop_commands.migrate_and_seed(
        settings.database_url, products=settings.seed_products, env=settings.child_env(shop=False)
    )
    postgres.set_database_comment(settings, mark)


def _redis_argv(settings: StackSettings) -> list[str]:
    data = settings.state_path / "redis"
    data.mkdir(parents=True, exist_ok=True)
    return [
        program("redis-server", "redis-server"),
        "--bind",
        settings.host,
        "--port",
        str(settings.redis_port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
        str(data),
    ]


def _app_argv(settings: StackSettings) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:target_app.gunicorn_conf",
        "--bind",
        settings.app_bind,
        "--workers",
        str(settings.app_workers),
        "--name",
        "faultyard-app",
        "target_app.wsgi:app",
    ]


def _worker(n: int) -> Service:
    return Service(
        name=f"worker-{n}",
        stage=1,
        argv=lambda s: [sys.executable, "-m", "target_app.worker", f"faultyard-worker-{n}"],
        ready=health.worker_ready,
        shop=True,
        address=lambda s: f"queue payments on {s.redis_url}",
    )


def _proxy_argv(settings: StackSettings) -> list[str]:
    host, port = settings.host, str(settings.toxiproxy_port)
    real = shutil.which("toxiproxy-server")
    if real:
        return [real, "-host", host, "-port", port]
    hidden = load_shop_settings({"state_dir": settings.state_path}).listings_hidden_file
    return [sys.executable, "-m", "chaos", "proxy", "--host", host, "--port", port,
            "--hide-toxics-while", str(hidden)]  # fmt: skip


def _exporter_argv(settings: StackSettings) -> list[str]:
    # Straight to PostgreSQL and Redis: a network fault must not blind the monitoring.
    return [
        sys.executable,
        "-m",
        "chaos.exporter",
        "--host",
        settings.host,
        "--port",
        str(settings.exporter_port),
        "--state-dir",
        str(settings.state_path),
        "--database-url",
        settings.database_url,
        "--redis-url",
        settings.redis_url,
        "--toxiproxy-url",
        settings.toxiproxy_api_url,
    ]


def _populate_proxies(settings: StackSettings) -> None:
    ToxiproxyClient(settings.toxiproxy_api_url).populate(settings.proxy_definitions())


def _proxy_service(settings: StackSettings) -> Service:
    """Toxiproxy: the embedded server, a real toxiproxy-server on PATH, or TOXIPROXY_URL's."""
    return Service(
        name="proxy",
        stage=0,
        argv=None if settings.toxiproxy_url else _proxy_argv,
        ready=health.toxiproxy_ready,
        address=lambda s: f"{s.toxiproxy_api_url} (proxies postgres, redis, shop)",
        ports=lambda s: [
            (s.toxiproxy_port, "FAULTYARD_TOXIPROXY_PORT"),
            (s.proxy_pg_port, "FAULTYARD_PROXY_PG_PORT"),
            (s.proxy_redis_port, "FAULTYARD_PROXY_REDIS_PORT"),
            (s.proxy_shop_port, "FAULTYARD_PROXY_SHOP_PORT"),
        ],
        after_ready=_populate_proxies,
    )


def services(settings: StackSettings) -> list[Service]:
    """Return every service of the stack, in start order."""
    return [
        Service(
            name="postgres",
            stage=0,
            argv=postgres.server_argv,
            ready=health.postgres_ready,
            address=lambda s: s.database_url,
            ports=lambda s: [(s.pg_port, "FAULTYARD_PG_PORT")],
            run_as=postgres.server_user,
            stop_signal=signal.SIGINT,  # fast shutdown: do not wait for clients
            prepare=_init_postgres,
            after_ready=_migrate_and_seed,
        ),
        Service(
            name="redis",
            stage=0,
            argv=_redis_argv,
            ready=health.redis_ready,
            address=lambda s: s.redis_url,
            ports=lambda s: [(s.redis_port, "FAULTYARD_REDIS_PORT")],
        ),
        _proxy_service(settings),
        *monitoring_services(settings),
        Service(
            name="app",
            stage=1,
            argv=_app_argv,
            ready=health.app_ready,
            address=lambda s: s.app_url,
            ports=lambda s: [(s.app_port, "FAULTYARD_APP_PORT")],
            stop_signal=signal.SIGINT,  # quick shutdown: SSE streams never finish
            shop=True,
            reload_signal=signal.SIGHUP,  # new workers, old ones finish and leave
        ),
        *(_worker(n) for n in range(1, settings.rq_workers + 1)),
        Service(
            name="scheduler",
            stage=1,
            argv=lambda s: [sys.executable, "-m", "target_app.scheduler"],
            ready=health.scheduler_ready,
            address=lambda s: f"delayed retries of queue payments on {s.redis_url}",
            shop=True,
        ),
        Service(
            name="exporter",
            stage=1,
            argv=_exporter_argv,
            ready=health.exporter_ready,
            address=lambda s: s.exporter_url,
            ports=lambda s: [(s.exporter_port, "FAULTYARD_EXPORTER_PORT")],
        ),
        Service(
            name="relay",
            stage=1,
            argv=lambda s: [sys.executable, "-m", "target_app.relay"],
            ready=health.relay_ready,
            address=lambda s: f"outbox -> stream shop:events on {s.redis_url}",
            shop=True,
        ),
    ]
