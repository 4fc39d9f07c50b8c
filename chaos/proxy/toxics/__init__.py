"""Toxic kinds, one module each, registered by type name in REGISTRY."""

from chaos.proxy.toxics import (  # noqa: F401  (importing registers them)
    bandwidth,
    idle_timeout,
    latency,
    limit_data,
    reset_peer,
    slicer,
    slow_close,
    timeout,
)
from chaos.proxy.toxics.base import REGISTRY, Chunk, ToxicContext, ToxicKind

__all__ = ["REGISTRY", "Chunk", "ToxicContext", "ToxicKind"]
