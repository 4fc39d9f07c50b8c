"""A small JSON object in the state folder that every process of the stack shares.

Bug switches and runtime settings live in files like this: a local file keeps
working while Redis or PostgreSQL are down or slow. Readers cache the content
and read the file again at most `refresh_s` after their last read, so a change
reaches every process within a second. Writers hold an exclusive lock while
they read, change and rename a new file into place, so no writer loses
another's change and no reader ever sees half a file.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

State = dict[str, Any]


class SharedStateFile:
    """Read (cached, refreshed every `refresh_s`) and atomically update one JSON object."""

    def __init__(self, path: Path | str, *, refresh_s: float = 0.2) -> None:
        self.path = Path(path)
        self.refresh_s = refresh_s
        self._state: State = {}
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def read(self, *, fresh: bool = False) -> State:
        """Return the object as this process last read it, re-read if `refresh_s` has passed.

        `fresh` reads the file now: for answers that must not lag a change another
        process just made (the admin API, which any worker may serve).
        """
        now = time.monotonic()
        if fresh or now - self._checked_at >= self.refresh_s:
            # The file is tiny: reading it is cheaper and surer than detecting a change.
            with self._lock:
                self._state = self._read_file()
                self._checked_at = now
        return self._state

    def update(self, change: Callable[[State], State]) -> State:
        """Replace the object with `change(current)` for every process; return the new object."""
        with self._exclusive():
            new = change(self._read_file())
            self._write_file(new)
        self._checked_at = float("-inf")
        return self.read()

    def _read_file(self) -> State:
        try:
            raw = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return {}
        return raw if isinstance(raw, dict) else {}

    def _write_file(self, state: State) -> None:
        # Write then rename, so a reader never sees half a file.
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state, sort_keys=True))
        os.replace(tmp, self.path)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
