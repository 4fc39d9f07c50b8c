"""Runtime settings: the registry's validation, the shared file, the admin API, the code reading them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, insert

from chaos.stack.manager import Stack
from target_app import jobs
from target_app.config import ShopSettings, load_settings
from target_app.models import Order
from target_app.runtime_settings import (
    REGISTRY,
    InvalidSettingError,
    RuntimeSettings,
    UnknownSettingError,
    validate,
)
from tests.conftest import AppFactory, free_port

AUTH = {"Authorization": "Bearer test-token"}


@pytest.mark.parametrize(
    ("name", "given", "stored"),
    [
        ("payment_failure_rate", 0.9, 0.9),
        ("payment_failure_rate", 1, 1.0),
        ("payment_failure_rate", "0.25", 0.25),
        ("catalog_cache_ttl_s", 5, 5.0),
        ("catalog_cache_ttl_s", 0, 0.0),
        ("payment_delay_ms", 200, 200),
        ("checkout_lock_pause_ms", "20", 20),
    ],
)
def test_values_are_stored_as_the_settings_type(name: str, given: object, stored: object) -> None:
    value = validate(name, given)
    assert value == stored and type(value) is type(stored)


@pytest.mark.parametrize(
    ("name", "given", "says"),
    [
        ("payment_failure_rate", 1.5, "x <= 1"),
        ("payment_failure_rate", -0.1, "x >= 0"),
        ("payment_failure_rate", True, "float"),
        ("payment_failure_rate", "often", "float"),
        ("catalog_cache_ttl_s", -1, "x >= 0"),
        ("payment_delay_ms", 2.5, "int"),
    ],
)
def test_wrong_type_or_range_names_what_is_allowed(name: str, given: object, says: str) -> None:
    with pytest.raises(InvalidSettingError, match=name) as caught:
        validate(name, given)
    assert says in str(caught.value)


def test_unknown_setting_lists_the_known_ones() -> None:
    with pytest.raises(UnknownSettingError) as caught:
        validate("database_url", "postgresql://elsewhere")  # a setting, but not a runtime one
    assert all(name in str(caught.value) for name in REGISTRY)


def test_every_runtime_setting_is_a_shop_setting() -> None:
    assert set(REGISTRY) <= set(ShopSettings.model_fields)
    assert {"payment_failure_rate", "catalog_cache_ttl_s"} <= set(REGISTRY)


def test_a_change_reaches_another_process_board_and_reset_restores_the_default(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runtime-settings.json"
    writer, reader = RuntimeSettings(path), RuntimeSettings(path, refresh_s=0)
    settings = load_settings({"payment_failure_rate": 0.1})
    assert reader.apply(settings) is settings  # nothing changed: the same object

    writer.set("payment_failure_rate", 0.75)
    writer.set("catalog_cache_ttl_s", 5)
    applied = reader.apply(settings)
    assert (applied.payment_failure_rate, applied.catalog_cache_ttl_s) == (0.75, 5.0)
    assert settings.payment_failure_rate == 0.1  # the environment's settings are untouched

    writer.reset("payment_failure_rate")
    assert reader.overrides() == {"catalog_cache_ttl_s": 5.0}
    assert reader.apply(settings).payment_failure_rate == 0.1
    writer.reset()
    assert reader.overrides() == {}


def test_switches_and_settings_files_do_not_clash(tmp_path: Path) -> None:
    from target_app.switches import SwitchBoard

    settings = load_settings({"state_dir": tmp_path})
    SwitchBoard(settings.switches_file).set("retry_without_backoff", True)
    RuntimeSettings(settings.runtime_settings_file).set("payment_failure_rate", 0.5)
    assert SwitchBoard(settings.switches_file).is_on("retry_without_backoff")
    assert RuntimeSettings(settings.runtime_settings_file).overrides() == {
        "payment_failure_rate": 0.5
    }


def test_a_hand_edited_file_never_breaks_the_shop(tmp_path: Path) -> None:
    path = tmp_path / "runtime-settings.json"
    path.write_text('{"payment_failure_rate": 7, "nope": 1, "catalog_cache_ttl_s": 2}')
    assert RuntimeSettings(path).overrides() == {"catalog_cache_ttl_s": 2.0}
    path.write_text("{half")
    assert RuntimeSettings(path).overrides() == {}


def settings_by_name(response_json: dict[str, list[dict[str, object]]]) -> dict[str, dict]:
    return {s["name"]: s for s in response_json["settings"]}  # type: ignore[misc]


def test_admin_lists_sets_and_resets_settings(make_app: AppFactory) -> None:
    app = make_app(payment_failure_rate=0.05)
    client = app.test_client()
    listed = settings_by_name(client.get("/admin/settings", headers=AUTH).get_json())
    assert set(listed) == set(REGISTRY)
    assert listed["payment_failure_rate"] == {
        "name": "payment_failure_rate",
        "value": 0.05,
        "default": 0.05,
        "overridden": False,
        "type": "float",
        "range": "x >= 0, x <= 1",
        "read_by": REGISTRY["payment_failure_rate"].read_by,
    }

    response = client.put("/admin/settings/payment_failure_rate", json={"value": 0.9}, headers=AUTH)
    assert response.status_code == 200
    changed = settings_by_name(response.get_json())["payment_failure_rate"]
    assert (changed["value"], changed["default"], changed["overridden"]) == (0.9, 0.05, True)
    board = RuntimeSettings(app.extensions["settings"].runtime_settings_file, refresh_s=0)
    assert board.overrides() == {"payment_failure_rate": 0.9}

    client.put("/admin/settings/catalog_cache_ttl_s", json={"value": 5}, headers=AUTH)
    one_back = client.delete("/admin/settings/payment_failure_rate", headers=AUTH)
    assert settings_by_name(one_back.get_json())["payment_failure_rate"]["value"] == 0.05
    assert board.overrides() == {"catalog_cache_ttl_s": 5.0}
    assert client.post("/admin/settings/reset", headers=AUTH).status_code == 200
    assert board.overrides() == {}


def test_admin_lists_a_setting_another_worker_just_changed(make_app: AppFactory) -> None:
    """Any worker may answer the admin API: its listing must not lag the file."""
    app = make_app(switch_refresh_s=60.0)  # this worker's cache would lag for a minute
    client = app.test_client()
    assert not settings_by_name(client.get("/admin/settings", headers=AUTH).get_json())[
        "payment_failure_rate"
    ]["overridden"]
    RuntimeSettings(app.extensions["settings"].runtime_settings_file).set(
        "payment_failure_rate", 0.7
    )
    listed = settings_by_name(client.get("/admin/settings", headers=AUTH).get_json())
    assert (
        listed["payment_failure_rate"]["value"],
        listed["payment_failure_rate"]["overridden"],
    ) == (
        0.7,
        True,
    )


def test_admin_refuses_unknown_settings_and_bad_values(app: Flask) -> None:
    client = app.test_client()
    unknown = client.put("/admin/settings/database_url", json={"value": "x"}, headers=AUTH)
    assert unknown.status_code == 404
    assert "payment_failure_rate" in unknown.get_json()["error"]
    assert client.delete("/admin/settings/nope", headers=AUTH).status_code == 404
    out_of_range = client.put(
        "/admin/settings/payment_failure_rate", json={"value": 2}, headers=AUTH
    )
    assert out_of_range.status_code == 422
    assert "x <= 1" in out_of_range.get_json()["error"]
    no_value = client.put("/admin/settings/payment_failure_rate", json={}, headers=AUTH)
    assert no_value.status_code == 422
    assert (
        client.put("/admin/settings/payment_failure_rate", json={"value": 0.5}).status_code == 401
    )  # no token
    assert app.extensions["runtime_settings"].overrides() == {}


def test_settings_work_while_postgres_and_redis_are_down(make_app: AppFactory) -> None:
    dead = free_port()
    app = make_app(
        database_url=f"postgresql+psycopg://faultyard@127.0.0.1:{dead}/shop",
        redis_url=f"redis://127.0.0.1:{dead}/0",
    )
    client = app.test_client()
    response = client.put("/admin/settings/catalog_cache_ttl_s", json={"value": 3}, headers=AUTH)
    assert response.status_code == 200
    assert settings_by_name(response.get_json())["catalog_cache_ttl_s"]["value"] == 3.0


@pytest.fixture
def job_env(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run jobs in this process as a worker of a stack whose state folder is `tmp_path`."""
    monkeypatch.setenv("FAULTYARD_DATABASE_URL", stack.settings.database_url)
    monkeypatch.setenv("FAULTYARD_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("FAULTYARD_PAYMENT_DELAY_MS", "0")
    yield tmp_path
    jobs.dispose_engine()


def test_the_payment_job_reads_the_failure_rate_at_runtime(
    job_env: Path,
    client: FlaskClient,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    (product,) = new_products(5)
    # An order without an outbox event: the session stack's relay and workers never pay it.
    with db.begin() as conn:
        order_id = conn.execute(
            insert(Order)
            .values(
                user_id=1,
                cart_id=new_cart((product, 1)),
                status="pending_payment",
                total_cents=1000,
            )
            .returning(Order.id)
        ).scalar_one()
    board = RuntimeSettings(load_settings().runtime_settings_file)

    board.set("payment_failure_rate", 1.0)
    with pytest.raises(jobs.PaymentProviderError):
        jobs.capture_payment(order_id)
    assert client.get(f"/orders/{order_id}").get_json()["status"] == "pending_payment"

    board.reset()
    time.sleep(load_settings().switch_refresh_s)  # the job's board re-reads the file by then
    assert jobs.capture_payment(order_id) == "paid"
