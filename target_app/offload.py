"""Run blocking or CPU-heavy calls off a gevent worker's hub, in gevent's thread pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from gevent import get_hub, monkey

T = TypeVar("T")


def off_the_hub(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a call in gevent's thread pool when the process runs on gevent, else here.

    On the hub, a call that never waits for I/O stalls every request of the worker for
    its whole time. In a pool thread the hub goes on serving: fully when the call
    releases the GIL (a C library such as Argon2), every switch interval (5 ms) otherwise.
    """
    if monkey.is_module_patched("threading"):
        return get_hub().threadpool.apply(fn, args, kwargs)  # type: ignore[no-any-return]
    return fn(*args, **kwargs)
