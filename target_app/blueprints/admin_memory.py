"""What a shop process holds in memory: its RSS and its live objects counted by type.

A first look for a leak: ask twice, a minute apart, and see which types grow
(`faultyard`'s guide for the memory-leak scenario does). Each answer is one
gunicorn worker's, the one that took the request (`pid` says which). Counting
walks every object the garbage collector tracks: a few hundred milliseconds in
which the worker serves nothing else, so it is for diagnosis, not a dashboard.
"""

from __future__ import annotations

import gc
import os
from collections import Counter

import psutil
from flask import Blueprint, request
from pydantic import BaseModel, ConfigDict, Field
from spectree import Response

from target_app.api import api
from target_app.blueprints.admin import AUTH_ERRORS, guard

bp = Blueprint("admin_memory", __name__, url_prefix="/admin")
bp.before_request(guard)


class MemoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    top: int = Field(15, ge=1, le=200, description="How many of the most numerous types")


class TypeCount(BaseModel):
    type: str = Field(description="module.qualname of the objects' type")
    count: int


class MemoryOut(BaseModel):
    pid: int
    rss_bytes: int
    gc_objects: int = Field(description="Objects the garbage collector tracks, in all")
    top_types: list[TypeCount]


def _type_name(kind: type) -> str:
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


@bp.get("/memory")
@api.validate(
    query=MemoryQuery,
    resp=Response(HTTP_200=MemoryOut, **AUTH_ERRORS),
    tags=["admin"],
)
def memory() -> MemoryOut:
    """Show this worker's resident memory and its most numerous live objects by type."""
    query: MemoryQuery = request.context.query  # type: ignore[attr-defined]
    objects = gc.get_objects()
    counts = Counter(map(type, objects))  # names only for the top ones: a leak means millions
    total = len(objects)
    del objects
    return MemoryOut(
        pid=os.getpid(),
        rss_bytes=psutil.Process().memory_info().rss,
        gc_objects=total,
        top_types=[
            TypeCount(type=_type_name(kind), count=n) for kind, n in counts.most_common(query.top)
        ],
    )
