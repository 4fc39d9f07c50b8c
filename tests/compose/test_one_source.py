"""The compose stack runs what the native stack runs: same proxies, scrape jobs, ports and names."""

from __future__ import annotations

import re
from typing import Any

import yaml

from chaos.compose.topology import PORTS, Topology
from chaos.monitoring import DASHBOARDS_DIR, prometheus
from chaos.settings import StackSettings
from chaos.stack.services import services as native_services

NATIVE = StackSettings.model_construct()
#: The console draws the dashboards for a stack without Grafana: the compose stack has Grafana.
NATIVE_ONLY = {"console"}


def _published(services: dict[str, dict[str, Any]]) -> dict[str, tuple[str, int, int]]:
    """Return each host-port variable: (service, its default, the container port it reaches)."""
    found = {}
    for name, service in services.items():
        for mapping in service.get("ports", []):
            match = re.fullmatch(r"127\.0\.0\.1:\$\{(FAULTYARD_\w+):-(\d+)\}:(\d+)", mapping)
            assert match, mapping
            found[match.group(1)] = (name, int(match.group(2)), int(match.group(3)))
    return found


def test_every_native_service_runs_under_its_name(services: dict[str, dict[str, Any]]) -> None:
    native = {s.name for s in native_services(NATIVE)} - NATIVE_ONLY
    assert native <= set(services), native - set(services)
    extra = set(services) - native
    assert extra == {
        "shop-pids", "init", "admin-gate", "grafana", "jaeger", "locust",
    }  # fmt: skip


def test_host_ports_are_the_native_port_settings(services: dict[str, dict[str, Any]]) -> None:
    published = _published(services)
    native_ports = {
        f"FAULTYARD_{n.upper()}"
        for n in StackSettings.model_fields
        if n.endswith("_port") and n.removesuffix("_port") not in NATIVE_ONLY
    }
    assert native_ports <= set(published), native_ports - set(published)
    for variable in native_ports:
        setting = variable.removeprefix("FAULTYARD_").lower()
        assert published[variable][1] == getattr(NATIVE, setting), variable


def test_proxies_are_the_native_ones(
    toxiproxy_config: list[dict[str, Any]], services: dict[str, dict[str, Any]]
) -> None:
    native = NATIVE.proxy_definitions()
    assert [p["name"] for p in toxiproxy_config] == [p["name"] for p in native]
    published = {default: target for _n, default, target in _published(services).values()}
    for ours, theirs in zip(toxiproxy_config, native, strict=True):
        listen_port = int(str(theirs["listen"]).rsplit(":", 1)[1])
        # The host reaches the proxy on the native port, and the proxy listens on it.
        assert ours["listen"] == f"0.0.0.0:{published[listen_port]}"
        # Its upstream is the service that serves the native upstream port.
        upstream_port = int(str(theirs["upstream"]).rsplit(":", 1)[1])
        topology = Topology()
        assert ours["upstream"] == topology.address(topology.setting_of(upstream_port))
        host = ours["upstream"].split(":")[0]
        assert host in services and ours["enabled"] is True


def test_shop_processes_reach_data_stores_through_the_proxies(
    services: dict[str, dict[str, Any]], toxiproxy_config: list[dict[str, Any]]
) -> None:
    listen = {p["name"]: p["listen"].rsplit(":", 1)[1] for p in toxiproxy_config}
    for name in ("app", "worker-1", "worker-2", "scheduler", "relay"):
        env = services[name]["environment"]
        assert f"@proxy:{listen['postgres']}/" in env["FAULTYARD_DATABASE_URL"], name
        assert env["FAULTYARD_REDIS_URL"].startswith(f"redis://proxy:{listen['redis']}/"), name
        assert services[name]["pid"] == "service:shop-pids", name  # metric files named by PID
        assert services[name]["volumes"] == ["faultyard-state:/var/lib/faultyard"], name
    assert services["locust"]["command"][services["locust"]["command"].index("--host") + 1] == (
        f"http://proxy:{listen['shop']}"
    )


def test_scrape_jobs_and_rules_are_the_native_ones(
    prometheus_config: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    jobs = {
        c["job_name"]: c["static_configs"][0]["targets"][0]
        for c in prometheus_config["scrape_configs"]
    }
    assert list(jobs) == list(prometheus.native_targets(NATIVE))
    assert prometheus_config["global"]["scrape_interval"] == prometheus.SCRAPE_INTERVAL
    for job, address in jobs.items():
        host, port = address.rsplit(":", 1)
        assert host in services, job
        ports = [p for p in PORTS if p.service == host]
        assert int(port) in {Topology().container_port(p.setting) for p in ports}, job
    mounts = services["prometheus"]["volumes"]
    assert f"../dashboards/prometheus/alerts.yml:{prometheus_config['rule_files'][0]}:ro" in mounts
    queries = services["postgres-exporter"]["volumes"][0]
    assert queries.startswith("../dashboards/prometheus/postgres-queries.yml:")


def test_grafana_gets_the_provisioning_the_dashboards_expect(
    services: dict[str, dict[str, Any]],
) -> None:
    grafana = services["grafana"]
    provisioning = DASHBOARDS_DIR / "grafana" / "provisioning"
    providers = yaml.safe_load((provisioning / "dashboards" / "faultyard.yml").read_text())
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    path = providers["providers"][0]["options"]["path"]
    assert f"../dashboards/grafana/dashboards:{path}:ro" in grafana["volumes"]
    assert "../dashboards/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    env = grafana["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{path}/overview.json"
    assert (DASHBOARDS_DIR / "grafana" / "dashboards" / "overview.json").is_file()
    # The datasource's URL is the compose Prometheus's address in the network.
    url = datasource["datasources"][0]["url"]
    assert url == f"http://{Topology().address('prometheus_port')}"


def test_the_shop_exports_traces_to_jaeger(services: dict[str, dict[str, Any]]) -> None:
    assert services["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    for name in ("app", "worker-1", "relay"):
        assert services[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
