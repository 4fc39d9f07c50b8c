"""The shoppers: Locust, driving load at the shop through the shop proxy."""

from __future__ import annotations

from typing import Any

from chaos.compose import images
from chaos.compose.render.context import (
    ALL_INTERFACES,
    CHECK_EVERY,
    RenderContext,
    healthy,
    python_check,
    shop_build,
)

# Path inside the container (the project is copied to /src).
LOCUSTFILE = "/src/scenarios/locustfile.py"


def locust_service(ctx: RenderContext) -> dict[str, Any]:
    """Return the Locust service, its UI published, its shoppers' class picked in the UI."""
    port = ctx.port("locust_port")
    return {
        # The shoppers need the project (the locustfile imports target_app.public).
        "image": images.SHOP,
        "build": shop_build(),
        "command": [
            "locust",
            "-f",
            LOCUSTFILE,
            # Through the shop proxy, as natively: faults on it reach the shoppers.
            "--host",
            f"http://{ctx.topology.address('proxy_shop_port')}",
            "--web-host",
            ALL_INTERFACES,
            "--web-port",
            str(port),
            "--class-picker",
        ],
        "environment": ctx.seed_products(),
        "ports": ctx.publish("locust"),
        "depends_on": healthy("proxy", "app"),
        "healthcheck": {
            "test": ["CMD", *python_check("http", f"http://127.0.0.1:{port}/")],
            **CHECK_EVERY,
        },
    }
