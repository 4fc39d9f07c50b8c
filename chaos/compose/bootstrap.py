"""The compose stack's one-shot start-up step, run before any shop process starts.

What `faultyard up` does for the native stack between PostgreSQL answering and
the shop starting: the schema and the seed, a fresh folder for the merged
metrics, and the admin token in the shared state folder (from the Docker secret
`make compose-up` wrote from .faultyard-compose/admin-token, so the CLI holds it too).
"""

from __future__ import annotations

import argparse
import logging
import os
import pwd
import shutil
from pathlib import Path

from chaos.errors import ServiceStartError
from chaos.settings import StackSettings
from chaos.stack.shop_commands import migrate_and_seed
from target_app.public import admin_token_file

log = logging.getLogger("chaos.compose.bootstrap")


def install_token(secret: Path, state_dir: Path) -> Path:
    """Copy the admin token into the state folder, readable by its owner only (as natively)."""
    token = secret.read_text().strip()
    if not token:
        raise SystemExit(f"{secret} is empty: `make compose-up` writes the admin token there")
    target = admin_token_file(state_dir)
    target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return target


def fresh_metrics_dir(state_dir: Path) -> Path:
    """Empty the folder the shop merges every process's metric files from."""
    metrics = state_dir / "metrics"
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    return metrics


def main(argv: list[str] | None = None) -> None:
    """Prepare the state folder and the database, then exit."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    defaults = StackSettings()
    parser = argparse.ArgumentParser(prog="python -m chaos.compose.bootstrap")
    parser.add_argument("--state-dir", type=Path, default=defaults.state_dir)
    parser.add_argument("--database-url", required=True, help="straight to PostgreSQL")
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--seed-products", type=int, default=defaults.seed_products)
    parser.add_argument("--owner", help="give the files written to this user (the shop's)")
    args = parser.parse_args(argv)
    written = [install_token(args.token_file, args.state_dir), fresh_metrics_dir(args.state_dir)]
    if args.owner:
        user = pwd.getpwnam(args.owner)
        for path in written:
            os.chown(path, user.pw_uid, user.pw_gid)
    log.info("admin token and a fresh metrics folder in %s", args.state_dir)
    try:
        # The shop's own commands (`python -m target_app.migrate`, then `... seed`).
        migrate_and_seed(args.database_url, products=args.seed_products, env=os.environ)
    except ServiceStartError as exc:
        raise SystemExit(f"bootstrap: {exc}") from None
    log.info("schema migrated, %d products seeded", args.seed_products)


if __name__ == "__main__":
    main()
