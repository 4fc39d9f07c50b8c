"""Fixtures: one private stack for the whole session, and shop apps that talk to it."""

# gevent must patch the standard library before psycopg is imported, as in
# every entry point of the shop: the test process is no exception.
from gevent import monkey

monkey.patch_all()

import gc  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from redis import Redis  # noqa: E402
from sqlalchemy import Engine, create_engine, event, insert  # noqa: E402

from chaos.ports import free_port  # noqa: E402
from chaos.settings import StackSettings, load_stack_settings  # noqa: E402
from chaos.stack.manager import Stack  # noqa: E402
from target_app import create_app  # noqa: E402
from target_app.models import Cart, CartItem, Order, Product  # noqa: E402
from tests.shop_clients import TEST_USER_ID, ShopClient, login_headers  # noqa: E402,F401

PORT_SETTINGS = (
    "pg_port",
    "redis_port",
    "app_port",
    "toxiproxy_port",
    "proxy_pg_port",
    "proxy_redis_port",
    "proxy_shop_port",
    "prometheus_port",
    "postgres_exporter_port",
    "redis_exporter_port",
    "rq_exporter_port",
    "rq_dashboard_port",
    "console_port",
    "exporter_port",
)


def port_env(settings: StackSettings) -> dict[str, str]:
    """Return the FAULTYARD_* variables that select these settings' state folder and ports."""
    env = {f"FAULTYARD_{name.upper()}": str(getattr(settings, name)) for name in PORT_SETTINGS}
    return {**env, "FAULTYARD_STATE_DIR": str(settings.state_path)}


def eventually(check: Callable[[], object], what: str, timeout_s: float = 20.0) -> object:
    """Poll `check` until it returns something truthy; fail naming `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what} after {timeout_s:.0f}s")


def faultyard(
    env: dict[str, str], *args: str, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the faultyard command as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "chaos", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def reachable_temp_dir(prefix: str) -> Path:
    """Make a temporary folder the `postgres` user can reach (pytest's own are private)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def stack_settings() -> Iterator[StackSettings]:
    state = reachable_temp_dir("faultyard-test-")
    reports = Path(tempfile.mkdtemp(prefix="faultyard-test-reports-"))
    with pytest.MonkeyPatch.context() as patch:
        # Reports of runs no test names a folder for (the console's) stay out of the checkout.
        patch.setenv("FAULTYARD_REPORTS_DIR", str(reports))
        yield load_stack_settings(state_dir=state, **{name: free_port() for name in PORT_SETTINGS})
    shutil.rmtree(state, ignore_errors=True)
    shutil.rmtree(reports, ignore_errors=True)


@pytest.fixture(scope="session")
def stack(stack_settings: StackSettings) -> Iterator[Stack]:
    """The whole native stack, started once for the session and stopped afterwards."""
    stack = Stack(stack_settings)
    # SIGTERM (a cancelled CI job, `kill`) counts as Ctrl-C: pytest tears down, the stack stops.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        stack.up()
        yield stack
    finally:
        try:
            stack.down()
        finally:
            signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def cli_env(stack: Stack) -> dict[str, str]:
    """The environment that points the `faultyard` command at the session's stack."""
    return {**os.environ, **port_env(stack.settings)}


@pytest.fixture(scope="session")
def db(stack: Stack) -> Iterator[Engine]:
    """A plain engine on the stack's database, for arranging and checking rows."""
    engine = create_engine(stack.settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def redis_client(stack: Stack) -> Iterator[Redis]:
    client = Redis.from_url(stack.settings.redis_url, decode_responses=True)
    yield client
    client.close()


AppFactory = Callable[..., Flask]


@contextmanager
def recorded_statements(app: Flask) -> Iterator[list[str]]:
    """Record every statement the app's engine runs in the block, independently of the shop."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def make_app(stack: Stack, tmp_path: Path) -> Iterator[AppFactory]:
    """Build shop apps on the stack's database, each with its own switch file."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        config = {
            "database_url": stack.settings.database_url,
            "redis_url": stack.settings.redis_url,
            "state_dir": tmp_path,
            "admin_token": "test-token",
            "switch_refresh_s": 0.01,
            # Tests read the trace of any request they make; the first app sets up
            # the process's tracing, so no test may find its request left unsampled.
            "tracing_max_traces_per_s": 0,
            # Each test's rate limits count from zero (the limits live in the shared Redis).
            "rate_limit_prefix": f"test-limits:{uuid.uuid4().hex[:8]}",
            **overrides,
        }
        app = create_app(config)
        app.config["TESTING"] = True
        app.test_client_class = ShopClient
        apps.append(app)
        return app

    yield factory
    for app in apps:
        # Drop retained failures (and what they hold) before closing the pool.
        app.extensions["failures"].clear()
        gc.collect()
        app.extensions["db_engine"].dispose()
        app.extensions["redis"].close()


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def new_products(db: Engine) -> Callable[..., list[int]]:
    """Insert products of this test's own, so tests never share stock."""

    def create(*stocks: int, price_cents: int = 1000, category: str = "testing") -> list[int]:
        tag = uuid.uuid4().hex[:10]
        with db.begin() as conn:
            rows = conn.execute(
                insert(Product).returning(Product.id),
                [
                    {
                        "sku": f"T-{tag}-{n}",
                        "name": f"Test item {tag} {n}",
                        "category": category,
                        "price_cents": price_cents,
                        "stock": stock,
                    }
                    for n, stock in enumerate(stocks)
                ],
            )
            return [row.id for row in rows]

    return create


@pytest.fixture
def new_cart(db: Engine) -> Callable[..., int]:
    """Insert a cart holding (product_id, quantity) pairs, in that order."""

    def create(*items: tuple[int, int], user_id: int = 1) -> int:
        with db.begin() as conn:
            cart_id = conn.execute(
                insert(Cart).values(user_id=user_id).returning(Cart.id)
            ).scalar_one()
            for product_id, quantity in items:
                conn.execute(
                    insert(CartItem).values(
                        cart_id=cart_id, product_id=product_id, quantity=quantity
                    )
                )
        return int(cart_id)

    return create


def pending_order(db: Engine, cart_id: int, total_cents: int = 1000) -> int:
    """Insert an order awaiting payment, without an outbox event: the stack's relay never
    enqueues its payment, so only the test's own job runs capture it.
    """
    with db.begin() as conn:
        return int(
            conn.execute(
                insert(Order)
                .values(user_id=1, cart_id=cart_id, status="pending_payment",
                        total_cents=total_cents)
                .returning(Order.id)
            ).scalar_one()
        )  # fmt: skip


@pytest.fixture
def unpaid_order(
    db: Engine, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> Callable[[], int]:
    """Make orders of 1000 cents (one product of its own) awaiting payment (`pending_order`)."""

    def create() -> int:
        (product,) = new_products(5)
        return pending_order(db, new_cart((product, 1)))

    return create


@pytest.fixture
def scratch_database(stack: Stack) -> Iterator[str]:
    """A new, migrated database on the stack's cluster that no stack process touches."""
    from chaos.stack import postgres
    from target_app import migrate

    name = f"scratch_{uuid.uuid4().hex[:12]}"
    with postgres.connect(stack.settings) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = stack.settings.database_url.rsplit("/", 1)[0] + f"/{name}"
    migrate.upgrade(url)
    yield url
    with postgres.connect(stack.settings) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
