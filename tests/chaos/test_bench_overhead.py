"""`make bench-overhead`: its shops differ only in instrumentation, and share each core fairly."""

from __future__ import annotations

import os

import psutil
import pytest
import requests

from chaos.bench import overhead
from chaos.stack.manager import Stack
from tests.conftest import eventually

pytestmark = pytest.mark.slow


def instrumented(url: str) -> bool:
    """Return whether the shop at `url` measures itself (its responses carry a request id)."""
    response = requests.get(f"{url}/products/1", headers={"Connection": "close"}, timeout=10)
    assert response.status_code == 200
    return "X-Request-ID" in response.headers


@pytest.mark.parametrize("calibrate", [False, True], ids=["on vs off", "calibration"])
def test_the_shops_differ_only_as_asked_and_each_core_holds_one_worker_of_each(
    stack: Stack, calibrate: bool
) -> None:
    with overhead.running_shops(stack.settings, calibrate=calibrate) as (shops, urls):
        assert instrumented(urls["on"]) is not calibrate
        assert instrumented(urls["off"]) is False

        workers = {
            side: {w.pid for w in psutil.Process(proc.pid).children()}
            for side, proc in shops.items()
        }
        assert all(len(pids) == stack.settings.app_workers for pids in workers.values())
        if not calibrate:  # gevent's monitor thread starts with the hub: may be after pinning
            eventually(
                lambda: all(len(psutil.Process(pid).threads()) > 1 for pid in workers["on"]),
                "the instrumented workers' monitor threads",
                10,
            )
            overhead.pin_workers(shops)  # as the bench does after its warm-up
        every_core = os.sched_getaffinity(0)
        by_core: dict[int, set[str]] = {}
        for side, pids in workers.items():
            for pid in pids:
                # The thread serving requests on one core; helper threads free on every core.
                threads = {t.id: os.sched_getaffinity(t.id) for t in psutil.Process(pid).threads()}
                (core,) = threads.pop(pid)
                assert all(cores == every_core for cores in threads.values())
                by_core.setdefault(core, set()).add(side)
        # Every core that runs a worker runs one of each side's.
        assert by_core and all(sides == {"on", "off"} for sides in by_core.values())
    assert all(proc.poll() is not None for proc in shops.values())
