"""Bug switches: each deliberate bug lives in the real code path behind a named switch.

The switch states live in one small JSON file in the state folder. Every
process (gunicorn workers, RQ workers, the relay) re-reads it when it changes,
at most `refresh_s` after a write, so a change reaches all of them within a
second and keeps working while Redis or PostgreSQL are down or slow.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Switch:
    """A deliberate bug; `on` means the buggy code path runs."""

    name: str
    bug: str
    fix: str


REGISTRY: dict[str, Switch] = {
    s.name: s
    for s in (
        Switch(
            name="lock_in_cart_order",
            bug="checkout locks product rows in the order they were added to the cart, "
            "so two carts holding the same products in opposite order deadlock",
            fix="lock product rows in ascending id order, one global order for every checkout",
        ),
        Switch(
            name="leak_session_on_error",
            bug="checkout opens its own session and, when it fails (out of stock), returns "
            "without closing it; the error kept for /admin/errors holds the session, "
            "so its pooled connection is never returned",
            fix="close the checkout session in a finally block on every path",
        ),
    )
}


class UnknownSwitchError(KeyError):
    """A switch name that is not in the registry."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown switch {self.name!r}; known: {', '.join(sorted(REGISTRY))}"


class SwitchBoard:
    """Reads and writes the switch file; reads are cached and refreshed on change."""

    def __init__(self, path: Path | str, *, refresh_s: float = 0.2) -> None:
        self.path = Path(path)
        self.refresh_s = refresh_s
        self._states: dict[str, bool] = {}
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def is_on(self, name: str) -> bool:
        """Return whether the bug behind `name` is switched on."""
        if name not in REGISTRY:
            raise UnknownSwitchError(name)
        return self.states()[name]

    def states(self) -> dict[str, bool]:
        """Return every switch with its state, refreshed if the file changed."""
        now = time.monotonic()
        if now - self._checked_at >= self.refresh_s:
            # The file is tiny: reading it is cheaper and surer than detecting a change.
            with self._lock:
                self._states = self._read_file()
                self._checked_at = now
        return {name: self._states.get(name, False) for name in REGISTRY}

    def set(self, name: str, on: bool) -> dict[str, bool]:
        """Switch `name` on or off for every process; return the new states."""
        if name not in REGISTRY:
            raise UnknownSwitchError(name)
        with self._exclusive():
            states = self._read_file()
            states[name] = on
            self._write_file(states)
        self._checked_at = float("-inf")
        return self.states()

    def reset(self) -> dict[str, bool]:
        """Switch every bug off."""
        with self._exclusive():
            self._write_file({})
        self._checked_at = float("-inf")
        return self.states()

    def _read_file(self) -> dict[str, bool]:
        try:
            raw = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return {k: bool(v) for k, v in raw.items() if k in REGISTRY}

    def _write_file(self, states: dict[str, bool]) -> None:
        # Write then rename, so a reader never sees half a file.
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(states, sort_keys=True))
        os.replace(tmp, self.path)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
