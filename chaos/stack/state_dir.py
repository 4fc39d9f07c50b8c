"""The native stack's state folder: its layout, the admin token, the shared metrics folder, a lock."""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chaos.errors import StackError

LOG_TAIL_LINES = 20


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last lines of a log file ('' if there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 64 * 1024))
            return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def prepare_state_dir(state: Path) -> None:
    """Create the logs and run folders, and the admin token the first time."""
    created = not state.exists()
    for folder in ("logs", "run"):
        (state / folder).mkdir(parents=True, exist_ok=True)
    if created and os.geteuid() == 0:
        # PostgreSQL runs as `postgres` and must be able to reach its data folder.
        state.chmod(0o755)
    token_file = state / "admin-token"
    if not token_file.exists():
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(24) + "\n")


def fresh_metrics_dir(state: Path) -> None:
    """Empty the folder the shop processes write their metric files to."""
    metrics = state / "metrics"
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)


@contextmanager
def locked(state: Path) -> Iterator[None]:
    """Let one `up` or `down` at a time touch this state folder."""
    (state / "run").mkdir(parents=True, exist_ok=True)
    with open(state / "run" / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StackError(
                f"another faultyard command is starting or stopping the stack in {state}"
            ) from None
        yield
