"""The private PostgreSQL cluster: binaries, initdb, and the shop's database."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from chaos.errors import MissingDependencyError, StackError
from chaos.settings import StackSettings

SERVER_USER = "postgres"


def bin_dir(settings: StackSettings) -> Path:
    """Return the directory of PostgreSQL's server programs (initdb, postgres)."""
    if settings.pg_bin_dir:
        candidates = [settings.pg_bin_dir]
    else:
        found = shutil.which("initdb")
        versioned = sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0),
            reverse=True,
        )
        candidates = [Path(found).resolve().parent] if found else []
        candidates += versioned
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "postgres").is_file():
            return candidate
    raise MissingDependencyError(
        "PostgreSQL server programs (initdb, postgres) not found; run `make setup` "
        "(installs the Debian package postgresql) or set FAULTYARD_PG_BIN_DIR"
    )


def server_user() -> str | None:
    """Return the user to run PostgreSQL as: `postgres` when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise MissingDependencyError(
            "running as root needs the `postgres` user to run PostgreSQL; "
            "install the Debian package postgresql (make setup)"
        ) from None
    return SERVER_USER


def init_cluster(settings: StackSettings, *, log_file: Path) -> bool:
    """Create the cluster if it does not exist yet; return whether it was created."""
    data = settings.postgres_data
    if (data / "PG_VERSION").is_file():
        return False
    if data.exists() and any(data.iterdir()):
        raise StackError(
            f"{data} holds files but no PostgreSQL cluster; empty it or point "
            "FAULTYARD_PG_DATA_DIR at another folder"
        )
    user = server_user()
    data.mkdir(parents=True, exist_ok=True)
    if user:
        entry = pwd.getpwnam(user)
        os.chown(data, entry.pw_uid, entry.pw_gid)
    data.chmod(0o700)
    argv = [
        str(bin_dir(settings) / "initdb"),
        "-D",
        str(data),
        "-U",
        settings.pg_user,
        "--auth=trust",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
        "--no-instructions",
    ]
    with open(log_file, "ab") as log:
        result = subprocess.run(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
            **({"user": user, "group": user, "extra_groups": []} if user else {}),
        )
    if result.returncode != 0:
        # Only what initdb wrote: the folder was empty (or new) when it started.
        for child in data.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        hint = (
            f" The `{user}` user must be able to reach {data}: choose a folder it can "
            "reach with FAULTYARD_PG_DATA_DIR (or FAULTYARD_STATE_DIR)."
            if user
            else ""
        )
        raise StackError(f"initdb failed (see {log_file}).{hint}")
    return True


def server_argv(settings: StackSettings) -> list[str]:
    """Return the command line of the PostgreSQL server."""
    return [
        str(bin_dir(settings) / "postgres"),
        "-D",
        str(settings.postgres_data),
        "-p",
        str(settings.pg_port),
        "-c",
        f"listen_addresses={settings.host}",
        "-c",
        "unix_socket_directories=",
        # A disposable testbed: durability traded for speed.
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "max_connections=200",
        "-c",
        "log_line_prefix=%m [%p] %q%a ",
        "-c",
        "log_lock_waits=on",
    ]


def connect(settings: StackSettings, *, dbname: str = "postgres") -> psycopg.Connection:
    """Connect straight to the private cluster (not through any proxy)."""
    return psycopg.connect(
        host=settings.host,
        port=settings.pg_port,
        user=settings.pg_user,
        dbname=dbname,
        connect_timeout=2,
        autocommit=True,
    )


def ensure_database(settings: StackSettings) -> None:
    """Create the shop's database if it is missing."""
    with connect(settings) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (settings.pg_database,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{settings.pg_database}"')


def database_comment(settings: StackSettings) -> str | None:
    """Return the comment on the shop's database (None: no comment, or no such database)."""
    with connect(settings) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (settings.pg_database,),
        ).fetchone()
    return None if row is None else row[0]


def set_database_comment(settings: StackSettings, comment: str) -> None:
    """Set the comment on the shop's database."""
    with connect(settings) as conn:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(settings.pg_database), sql.Literal(comment)
            )
        )
