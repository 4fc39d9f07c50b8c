"""The request validator and OpenAPI generator shared by every blueprint."""

from __future__ import annotations

import json
from typing import Any

from spectree import SpecTree


def _reshape_validation_error(
    req: Any, resp: Any, req_validation_error: Exception | None, instance: Any, model_adapter: Any
) -> None:
    """Give validation failures the shop's error shape: {"error", "status", "details"}."""
    if req_validation_error is None or resp is None:
        return
    details = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
        for e in model_adapter.validation_errors(req_validation_error)
    ]
    body = {"error": "request failed validation", "status": resp.status_code, "details": details}
    resp.set_data(json.dumps(body))


api = SpecTree(
    "flask",
    title="Faultyard shop",
    version="1",
    path="apidoc",
    mode="strict",
    validation_error_status=422,
    before=_reshape_validation_error,
    annotations=False,
)
