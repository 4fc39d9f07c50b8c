"""Liveness, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from flask.testing import FlaskClient

from target_app.instrumentation.request_hooks import InFlight
from tests.conftest import AppFactory, free_port


def test_healthz(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_checks_both_dependencies(client: FlaskClient) -> None:
    body = client.get("/readyz").get_json()
    assert body["status"] == "ready"
    assert body["checks"]["postgres"]["ok"] and body["checks"]["redis"]["ok"]


def test_readyz_names_the_dependency_that_is_down(make_app: AppFactory) -> None:
    client = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0").test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["postgres"]["ok"] is True
    assert checks["redis"]["ok"] is False
    assert "ConnectionError" in checks["redis"]["error"]


def product_detail_count(client: FlaskClient) -> float:
    for sample in client.get("/metrics").get_data(as_text=True).splitlines():
        if (
            sample.startswith("shop_http_requests_total{")
            and 'route="/products/<int:product_id>"' in sample
            and 'status="200"' in sample
        ):
            return float(sample.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_by_route_template(client: FlaskClient) -> None:
    before = product_detail_count(client)
    client.get("/products/1")
    client.get("/products/2")
    assert product_detail_count(client) == before + 2
    assert "shop_db_pool_checkout_wait_seconds_bucket" in client.get("/metrics").get_data(
        as_text=True
    )


def test_openapi_describes_every_route_with_its_models(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    expected = {
        ("/products", "get"),
        ("/products/search", "get"),
        ("/products/{product_id}", "get"),
        ("/carts", "post"),
        ("/carts/{cart_id}", "get"),
        ("/carts/{cart_id}/items", "post"),
        ("/carts/{cart_id}/items/{product_id}", "delete"),
        ("/carts/{cart_id}/checkout", "post"),
        ("/orders/{order_id}", "get"),
        ("/users/{user_id}/orders", "get"),
        ("/stream/stock", "get"),
        ("/stream/gaps", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/auth/register", "post"),
        ("/auth/login", "post"),
        ("/auth/refresh", "post"),
        ("/auth/logout", "post"),
        ("/auth/logout-all", "post"),
        ("/me", "get"),
        ("/products", "post"),
        ("/products/{product_id}/price", "put"),
        ("/products/{product_id}/restock", "post"),
    }
    assert expected <= {(path, m) for path, ops in spec["paths"].items() for m in ops}
    body = spec["paths"]["/carts/{cart_id}/items"]["post"]["requestBody"]
    schema_ref = body["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert schema["properties"]["quantity"]["exclusiveMinimum"] == 0


def test_requests_count_in_flight_until_their_response_is_ready(make_app: AppFactory) -> None:
    client = make_app().test_client()
    before = InFlight.count
    assert client.get("/products?per_page=1").status_code == 200
    assert client.get("/no-such-page").status_code == 404
    assert InFlight.count == before

    # An open stream was answered: it is not a request waiting for its response.
    stream = client.get("/stream/stock", buffered=False)
    assert next(stream.iter_encoded()).startswith(b": connected\n")
    assert InFlight.count == before
    stream.close()
    assert InFlight.count == before
