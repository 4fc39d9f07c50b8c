"""docker-compose accepts compose/docker-compose.yml, and the file keeps the stack's rules."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chaos.compose import COMPOSE_DIR, COMPOSE_FILE
from chaos.settings import StackSettings

PINNED = re.compile(r"^[\w./-]+:[\w.-]+$")


def _docker_compose() -> str:
    program = shutil.which("docker-compose")
    if program is None:
        pytest.skip("docker-compose is not installed (`make setup` installs Debian's package)")
    return program


def test_docker_compose_config_accepts_the_file() -> None:
    result = subprocess.run(
        [_docker_compose(), "-f", str(COMPOSE_FILE), "-p", "faultyard", "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_docker_compose_resolves_host_ports_from_the_native_variables(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "FAULTYARD_PROXY_SHOP_PORT": "38123", "HOME": str(tmp_path)}
    result = subprocess.run(
        [_docker_compose(), "-f", str(COMPOSE_FILE), "-p", "faultyard", "config"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "127.0.0.1:38123:28000" in result.stdout
    assert "127.0.0.1:15432:5432" in result.stdout  # the default where nothing is set


def _host_paths(service: dict[str, Any]) -> list[Path]:
    """Return the files and folders of the repository a service mounts or builds from."""
    paths = []
    for volume in service.get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("."):
            paths.append(COMPOSE_DIR / source)
    if "build" in service:
        context = COMPOSE_DIR / service["build"]["context"]
        paths += [context, context / service["build"]["dockerfile"]]
    return paths


def test_every_file_a_service_mounts_exists(services: dict[str, dict[str, Any]]) -> None:
    paths = [p for s in services.values() for p in _host_paths(s)]
    assert len(paths) > 10
    missing = [str(p) for p in paths if not p.exists()]
    assert missing == []


def test_the_admin_token_secret_is_the_file_the_cli_reads(compose: dict[str, Any]) -> None:
    # The only mounted file not in the repository: `make compose-up` writes it first.
    source = compose["secrets"]["admin-token"]["file"]
    default = re.fullmatch(r"\$\{FAULTYARD_COMPOSE_TOKEN_FILE:-(.+)\}", source)
    assert default is not None
    cli_state = StackSettings(target="compose").state_dir
    assert (COMPOSE_DIR / default.group(1)).resolve() == (cli_state / "admin-token").resolve()


def test_every_long_running_service_has_a_health_check(services: dict[str, dict[str, Any]]) -> None:
    one_shot = {n for n, s in services.items() if s.get("restart") == "no"}
    assert one_shot == {"init"}
    for name, service in services.items():
        if name in one_shot:
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] == "CMD", name


def test_dependencies_wait_on_conditions(services: dict[str, dict[str, Any]]) -> None:
    waits = {n: s["depends_on"] for n, s in services.items() if "depends_on" in s}
    assert len(waits) > 10
    for name, depends in waits.items():
        for target, how in depends.items():
            assert target in services, (name, target)
            expected = (
                "service_completed_successfully"
                if services[target].get("restart") == "no"
                else {"service_healthy", "service_started"}
            )
            assert how["condition"] in expected, (name, target)


def test_host_ports_are_bound_to_loopback(services: dict[str, dict[str, Any]]) -> None:
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert len(published) >= 14
    assert all(p.startswith("127.0.0.1:") for p in published), published


def test_images_are_pinned_and_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        assert PINNED.match(image) and not image.endswith(":latest"), (name, image)
        if image.endswith(":local"):
            assert "build" in service, name  # built here from compose/Dockerfile
    named = {
        v.split(":")[0]
        for s in compose["services"].values()
        for v in s.get("volumes", [])
        if not v.startswith(".")
    }
    assert (
        named == set(compose["volumes"]) == {"postgres-data", "prometheus-data", "faultyard-state"}
    )
