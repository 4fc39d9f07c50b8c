"""Stack settings: safe defaults, environment overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import ConfigError
from chaos.settings import load_stack_settings


def test_defaults_avoid_the_system_postgres_and_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("FAULTYARD_PG_PORT", "FAULTYARD_REDIS_PORT", "FAULTYARD_HOST"):
        monkeypatch.delenv(var, raising=False)
    settings = load_stack_settings()
    assert settings.pg_port != 5432 and settings.redis_port != 6379
    assert settings.host == "127.0.0.1"


def test_environment_overrides_and_derived_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAULTYARD_PG_PORT", "25432")
    monkeypatch.setenv("FAULTYARD_REDIS_PORT", "26379")
    settings = load_stack_settings()
    assert settings.database_url.endswith("@127.0.0.1:25432/shop")
    assert settings.redis_url == "redis://127.0.0.1:26379/0"
    env = settings.child_env()
    assert env["FAULTYARD_DATABASE_URL"] == settings.proxied_database_url
    assert env["FAULTYARD_REDIS_URL"] == settings.proxied_redis_url
    assert env["PROMETHEUS_MULTIPROC_DIR"] == str(settings.state_path / "metrics")


def test_only_shop_processes_write_shop_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/somewhere/else")
    monkeypatch.delenv("FAULTYARD_DATABASE_URL", raising=False)
    env = load_stack_settings().child_env(shop=False)
    assert "PROMETHEUS_MULTIPROC_DIR" not in env
    assert "FAULTYARD_DATABASE_URL" not in env


def test_ipv6_loopback_urls_are_bracketed() -> None:
    assert load_stack_settings(host="::1", app_port=18000).app_url == "http://[::1]:18000"


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("FAULTYARD_PG_PORT", "abc", "FAULTYARD_PG_PORT"),
        ("FAULTYARD_APP_PORT", "70000", "FAULTYARD_APP_PORT"),
        ("FAULTYARD_HOST", "0.0.0.0", "loopback only"),
        ("FAULTYARD_APP_WORKERS", "0", "FAULTYARD_APP_WORKERS"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, message: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=message):
        load_stack_settings()


def test_a_stack_process_reads_the_settings_the_stack_was_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A test's stack gets its ports as arguments, not from the environment; its console
    # (which may start a drill on it) must still act on that stack, not on the defaults.
    given = load_stack_settings(state_dir=tmp_path, pg_port=23456, console_port=23457, rq_workers=1)
    for name, value in given.child_env(shop=False).items():
        monkeypatch.setenv(name, value)
    assert load_stack_settings() == given.model_copy(update={"state_dir": given.state_path})
