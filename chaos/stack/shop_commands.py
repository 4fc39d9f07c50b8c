"""The shop's one-shot commands (its migrations, its seed), each run as a process of its own.

The native stack runs them once PostgreSQL answers, the compose stack's
bootstrap before any shop process starts; both straight to PostgreSQL, never
through the proxy, so a network fault never stops a start-up.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Mapping, Sequence

from chaos.errors import ServiceStartError
from target_app.public import MIGRATE_MODULE, SEED_MODULE, schema_and_seed_sources

#: Longer than any migration or seed of this shop takes (a few seconds), short of hanging forever.
COMMAND_TIMEOUT_S = 300.0
#: How much of a failed command's output the error shows.
TAIL_CHARS = 3000


def run_shop_command(
    module: str,
    args: Sequence[str] = (),
    *,
    env: Mapping[str, str],
    timeout_s: float = COMMAND_TIMEOUT_S,
) -> None:
    """Run `python -m MODULE ARGS`; raise ServiceStartError with its output's tail if it fails."""
    argv = [sys.executable, "-m", module, *args]
    command = " ".join(["python", "-m", module, *args])
    try:
        done = subprocess.run(
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceStartError(
            f"`{command}` did not finish within {timeout_s:g} s{_tail(exc.stderr, exc.stdout)}"
        ) from None
    if done.returncode != 0:
        raise ServiceStartError(
            f"`{command}` failed (exit code {done.returncode}){_tail(done.stderr, done.stdout)}"
        )


def migrate_and_seed(database_url: str, *, products: int, env: Mapping[str, str]) -> None:
    """Apply the shop's migrations, then its idempotent seed, to `database_url`."""
    env = {**env, "FAULTYARD_DATABASE_URL": database_url}
    run_shop_command(MIGRATE_MODULE, env=env)
    run_shop_command(SEED_MODULE, ["--products", str(products)], env=env)


def bootstrap_fingerprint(products: int) -> str:
    """Return what a database migrated and seeded by this code, with this catalog size, is marked with.

    A hash of the migrations' and the seed's sources: a new migration or a changed
    seed changes it, so the next start applies them.
    """
    digest = hashlib.sha256()
    for path in schema_and_seed_sources():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"faultyard: migrated and seeded ({digest.hexdigest()[:16]}, {products} products)"


def _tail(stderr: str | bytes | None, stdout: str | bytes | None) -> str:
    """Return the last lines of the command's stderr (else its stdout) to end an error message."""
    for output in (stderr, stdout):
        if isinstance(output, bytes):
            output = output.decode(errors="replace")
        if output and output.strip():
            return ":\n" + output.strip()[-TAIL_CHARS:]
    return " (it printed nothing)"
