"""What /openapi.json promises, checked answer by answer (the fuzzed contract: test_api_contract)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient


def test_order_timestamps_are_utc_with_their_offset(
    client: FlaskClient,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    (product,) = new_products(5)
    placed = client.post(f"/carts/{new_cart((product, 1))}/checkout")
    assert placed.status_code == 201
    for answer in (placed.get_json(), client.get(f"/orders/{placed.get_json()['id']}").get_json()):
        created = datetime.fromisoformat(answer["created_at"])
        assert created.utcoffset() == timedelta(0), answer["created_at"]
        # now() in the shop's sessions is UTC too: the order was created a moment ago.
        assert abs(datetime.now().astimezone() - created) < timedelta(minutes=1)


def test_every_4xx_has_the_documented_error_shape(client: FlaskClient) -> None:
    invalid = client.post("/orders", json={"product_id": 0, "quantity": 1})
    assert invalid.status_code == 422
    body = invalid.get_json()
    assert body["error"] and body["status"] == 422
    assert body["details"][0]["loc"] == ["product_id"]
    spec = client.get("/openapi.json").get_json()
    answer_422 = spec["paths"]["/orders"]["post"]["responses"]["422"]
    assert answer_422["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")


def test_a_wrong_method_names_the_allowed_ones(client: FlaskClient) -> None:
    answer = client.put("/healthz")
    assert answer.status_code == 405
    assert set(answer.headers["Allow"].split(", ")) >= {"GET", "HEAD"}
    assert answer.get_json()["status"] == 405


@pytest.mark.parametrize(
    ("quantity", "status"),
    [(1.0, 200), (1, 200), (1.5, 422), (True, 422), ("1", 422)],
    ids=["whole float", "int", "fraction", "boolean", "string"],
)
def test_integers_are_what_json_schema_calls_integers(
    client: FlaskClient,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
    quantity: object,
    status: int,
) -> None:
    (product,) = new_products(5)
    body = {"product_id": product, "quantity": quantity}
    assert client.post(f"/carts/{new_cart()}/items", json=body).status_code == status


def test_links_lead_from_a_new_cart_to_its_order(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    operation_ids = {op["operationId"]: (p, m) for p, ops in paths.items() for m, op in ops.items()}

    def targets(path: str, method: str, status: str) -> set[tuple[str, str]]:
        links = paths[path][method]["responses"][status]["links"]
        return {operation_ids[link["operationId"]] for link in links.values()}

    assert targets("/carts", "post", "201") >= {
        ("/carts/{cart_id}", "get"),
        ("/carts/{cart_id}/items", "post"),
        ("/carts/{cart_id}/checkout", "post"),
    }
    assert ("/orders/{order_id}", "get") in targets("/carts/{cart_id}/checkout", "post", "201")
    assert ("/orders/{order_id}", "get") in targets("/orders", "post", "201")


def test_every_route_documents_its_server_errors(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert "500" in operation["responses"], (method, path)
            database = path.startswith(("/products", "/carts", "/orders", "/users"))
            assert not database or "503" in operation["responses"], (method, path)
