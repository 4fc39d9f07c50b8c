"""`faultyard reload app`: a graceful restart gives back what a bug leaked into the old workers.

A small private stack (PostgreSQL, Redis, the proxy and the shop, one gunicorn
worker with a pool of two) so the leak never touches the session's stack.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, insert, text

from chaos.admin_client import AdminClient
from chaos.compose.stack import ComposeStack
from chaos.errors import StackError
from chaos.faults import Reload
from chaos.faults.injector import Injector
from chaos.settings import load_stack_settings
from chaos.stack import process
from chaos.stack.manager import Stack
from chaos.stack.services import services as stack_services
from target_app.models import Cart, CartItem, Product
from tests.conftest import (
    PORT_SETTINGS,
    eventually,
    faultyard,
    free_port,
    login_headers,
    port_env,
    reachable_temp_dir,
)
from tests.target_app.metrics_text import value

pytestmark = pytest.mark.slow

POOL_SIZE = 2
SHOP_CONNECTIONS = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE application_name = 'faultyard-shop' AND state = 'idle in transaction'"
)


@pytest.fixture
def shop_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The shop and its data stores alone, in a state folder and on ports of their own."""
    # The shop's processes inherit these: one worker, a small pool that times out fast.
    monkeypatch.setenv("FAULTYARD_POOL_SIZE", str(POOL_SIZE))
    monkeypatch.setenv("FAULTYARD_POOL_MAX_OVERFLOW", "0")
    monkeypatch.setenv("FAULTYARD_POOL_TIMEOUT_S", "0.5")
    state = reachable_temp_dir("faultyard-reload-")
    settings = load_stack_settings(
        state_dir=state,
        seed_products=1,
        app_workers=1,
        **{name: free_port() for name in PORT_SETTINGS},
    )
    wanted = {"postgres", "redis", "proxy", "app"}
    stack = Stack(settings, [s for s in stack_services(settings) if s.name in wanted])
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
        shutil.rmtree(state, ignore_errors=True)


def sold_out_carts(db: Engine, count: int) -> list[int]:
    """Insert a product with no stock and carts holding it: each checkout fails (409)."""
    with db.begin() as conn:
        product = conn.execute(
            insert(Product)
            .values(sku="RELOAD-0", name="Sold out", category="testing", price_cents=1, stock=0)
            .returning(Product.id)
        ).scalar_one()
        carts = []
        for _ in range(count):
            cart = conn.execute(insert(Cart).values(user_id=1).returning(Cart.id)).scalar_one()
            conn.execute(insert(CartItem).values(cart_id=cart, product_id=product, quantity=1))
            carts.append(int(cart))
    return carts


def checked_out(stack: Stack) -> float:
    metrics = requests.get(f"{stack.settings.app_url}/metrics", timeout=5).text
    return value(metrics, "shop_db_pool_checked_out")


def leaked(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(text(SHOP_CONNECTIONS)).scalar_one())


def test_a_reload_gives_back_the_connections_a_fixed_bug_leaked(shop_only: Stack) -> None:
    stack = shop_only
    shop = stack.settings.app_url
    token = (stack.state / "admin-token").read_text().strip()
    admin = AdminClient(shop, token)
    db = create_engine(stack.settings.database_url)
    try:
        admin.set_switch("leak_session_on_error", True)
        statuses = [
            requests.post(
                f"{shop}/carts/{cart}/checkout", headers=login_headers(shop), timeout=10
            ).status_code
            for cart in sold_out_carts(db, POOL_SIZE + 1)
        ]
        assert statuses == [409] * POOL_SIZE + [503]  # the last one found no connection
        assert requests.get(f"{shop}/products/1", timeout=10).status_code == 503
        assert checked_out(stack) == POOL_SIZE
        assert leaked(db) == POOL_SIZE

        # The fix stops new leaks; the leaked connections stay held by the old worker.
        admin.set_switch("leak_session_on_error", False)
        assert requests.get(f"{shop}/products/1", timeout=10).status_code == 503

        master = stack.running("app")
        assert master is not None
        old_workers = set(process.group_members(master)) - {master.pid}
        assert old_workers
        result = faultyard(port_env(stack.settings), "reload", "app")
        assert result.returncode == 0, result.stderr
        assert "app reloaded" in result.stdout

        assert stack.running("app") == master  # the same master, new workers
        assert not old_workers & set(process.group_members(master))
        assert requests.get(f"{shop}/products/1", timeout=10).status_code == 200
        # The gauge is sampled a few times a second: the request just served may still show.
        eventually(lambda: checked_out(stack) == 0, "the pool gauge to show no connection", 5)
        eventually(lambda: leaked(db) == 0, "PostgreSQL to drop the leaked connections", 10)
    finally:
        db.dispose()


def test_only_running_reloadable_services_reload(shop_only: Stack) -> None:
    with pytest.raises(StackError, match="cannot reload service 'postgres'; reloadable: app"):
        shop_only.reload("postgres")
    with pytest.raises(StackError, match="unknown service 'nope'; reloadable: app"):
        shop_only.reload("nope")
    result = faultyard(port_env(shop_only.settings), "reload", "redis")
    assert result.returncode == 2 and "reloadable: app" in result.stderr

    state = shop_only.reload("app")  # with nothing leaked, a reload is harmless
    assert state.healthy and state.detail == "1 old processes retired"
    shop_only.down()
    with pytest.raises(StackError, match="app is not running"):
        shop_only.reload("app")


def test_the_runner_reloads_the_compose_shop_through_its_admin_api(shop_only: Stack) -> None:
    """The compose shop's processes are not this machine's to signal: the admin API
    has a worker send SIGHUP to its master. Stood in for by the native shop."""
    compose = ComposeStack(shop_only.settings.model_copy(update={"target": "compose"}))
    master = shop_only.running("app")
    assert master is not None
    old_workers = set(process.group_members(master)) - {master.pid}

    admin = AdminClient(
        shop_only.settings.app_url, (shop_only.state / "admin-token").read_text().strip()
    )
    listed = admin.workers()
    assert listed["master_pid"] == master.pid
    assert set(listed["workers"]) == old_workers

    done = Injector(compose).apply(Reload(service="app"))
    assert done.startswith("reloaded app gracefully in ")
    # Done means the old workers are gone, not merely silent: what they held went with them.
    assert shop_only.running("app") == master  # the same master, new workers
    assert not old_workers & set(process.group_members(master))
    assert set(admin.workers()["workers"]) == set(process.group_members(master)) - {master.pid}

    with pytest.raises(StackError, match="reloads only the compose shop"):
        compose.reload("postgres")


@pytest.mark.parametrize(("method", "path"), [("POST", "/admin/reload"), ("GET", "/admin/workers")])
def test_a_shop_not_under_gunicorn_refuses_to_reload(
    client: FlaskClient, app: Flask, method: str, path: str
) -> None:
    token = app.extensions["settings"].resolved_admin_token()
    answer = client.open(path, method=method, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 409
    assert "not served by gunicorn" in answer.get_json()["error"]
