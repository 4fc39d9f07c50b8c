"""The request validator and OpenAPI generator shared by every blueprint."""

from __future__ import annotations

import json
import logging
from typing import Any

from spectree import SpecTree

from target_app import openapi
from target_app.schemas import ErrorOut

log = logging.getLogger(__name__)


def _details(model_adapter: Any, error: Exception) -> list[dict[str, Any]]:
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
        for e in model_adapter.validation_errors(error)
    ]


def _reshape_validation_error(
    req: Any, resp: Any, req_validation_error: Exception | None, instance: Any, model_adapter: Any
) -> None:
    """Give validation failures the shop's error shape: {"error", "status", "details"}."""
    if req_validation_error is None or resp is None:
        return
    details = _details(model_adapter, req_validation_error)
    body = {"error": "request failed validation", "status": resp.status_code, "details": details}
    resp.set_data(json.dumps(body))


def _reshape_response_error(
    req: Any, resp: Any, resp_validation_error: Exception | None, instance: Any, model_adapter: Any
) -> None:
    """An answer that breaks its own model is the shop's fault: a 500 in the shop's error shape."""
    if resp_validation_error is None or resp is None:
        return
    details = _details(model_adapter, resp_validation_error)
    log.error("response failed validation", extra={"details": details})
    body = {"error": "internal server error: the answer broke its schema", "status": 500}
    resp.set_data(json.dumps({**body, "details": details}))


_MODELS_BY_NAME: dict[str, Any] = {}


def _model_name(model: Any) -> str:
    """Name a component after its model alone ("OrderOut", not spectree's "OrderOut.491494f").

    Plain names read better, and clients that infer resources from them (a
    stateful fuzzer) see an `OrderOut` as an order. Two models of one name would
    share a component: refused.
    """
    name: str = model.__name__
    if _MODELS_BY_NAME.setdefault(name, model) is not model:
        raise ValueError(f"two API models are named {name}: rename one")
    return name


def _nested_model_name(parent: str, child: str) -> str:
    return child  # a model nested in another is the same component as on its own


class ShopSpecTree(SpecTree):
    """SpecTree, its document completed with what the routes' models cannot say.

    See target_app.openapi: the answers every route of a kind can give, request
    headers, the stock stream's media type, and the links between operations.
    """

    def _generate_spec(self) -> dict[str, Any]:
        spec = super()._generate_spec()
        openapi.complete(spec, error_schema=self.naming_strategy(ErrorOut))
        return spec


api = ShopSpecTree(
    "flask",
    title="Faultyard shop",
    version="1",
    path="apidoc",
    mode="strict",
    validation_error_status=422,
    validation_error_model=ErrorOut,
    before=_reshape_validation_error,
    after=_reshape_response_error,
    annotations=False,
    naming_strategy=_model_name,
    nested_naming_strategy=_nested_model_name,
)


def errors(*codes: int) -> dict[str, Any]:
    """Return spectree response entries answering `codes` with the shop's error body."""
    return {f"HTTP_{code}": ErrorOut for code in codes}
