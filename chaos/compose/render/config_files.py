"""The config files beside the compose file: toxiproxy.json, admin-gate.json, prometheus.yml."""

from __future__ import annotations

from urllib.parse import urlsplit

from chaos.compose.render.context import ALL_INTERFACES, RenderContext
from chaos.compose.render.observability import ALERT_RULES
from chaos.compose.topology import ADMIN_GATE_PORT, SHOP_PORT
from chaos.monitoring import prometheus


def toxiproxy_proxies(ctx: RenderContext) -> list[dict[str, object]]:
    """Return the native proxies, same names and listen ports, upstreams as compose services."""
    found = []
    for p in ctx.native.proxy_definitions():
        listen = urlsplit(f"//{p['listen']}").port
        upstream = urlsplit(f"//{p['upstream']}").port
        assert listen is not None and upstream is not None
        listen_setting = ctx.topology.setting_of(listen)
        found.append(
            {
                **p,
                "listen": f"{ALL_INTERFACES}:{ctx.port(listen_setting)}",
                "upstream": ctx.topology.address(ctx.topology.setting_of(upstream)),
            }
        )
    return found


def admin_gate_proxies() -> list[dict[str, object]]:
    """Return the admin gate's one proxy: the published app port to gunicorn over loopback."""
    return [
        {
            "name": "admin-gate",
            "listen": f"{ALL_INTERFACES}:{ADMIN_GATE_PORT}",
            "upstream": f"127.0.0.1:{SHOP_PORT}",
            "enabled": True,
        }
    ]


def scrape_targets(ctx: RenderContext) -> dict[str, str]:
    """Return the native scrape jobs, each at its compose service's address."""
    return {
        job: ctx.topology.address(ctx.topology.setting_of(int(address.rsplit(":", 1)[1])))
        for job, address in prometheus.native_targets(ctx.native).items()
    }


def prometheus_config(ctx: RenderContext) -> dict[str, object]:
    """Return Prometheus's config: the native generator, compose addresses."""
    return prometheus.config(scrape_targets(ctx), rule_files=[ALERT_RULES])
