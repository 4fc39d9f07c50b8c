"""`python -m chaos.compose generate|up|down`: write compose/, start or stop the compose stack."""

from __future__ import annotations

import argparse
import sys

from chaos.compose import engine
from chaos.compose.topology import ComposeSettings
from chaos.errors import FaultyardError
from chaos.settings import load_stack_settings


def generate(*, check: bool) -> int:
    """Write the generated files of compose/ (with `check`, only report which are stale)."""
    from chaos.compose.render import ComposeRenderer

    stale = []
    for path, text in ComposeRenderer().files().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not check:
            path.write_text(text)
            print(f"wrote {path}")
    if check and stale:
        names = ", ".join(str(p) for p in stale)
        print(f"stale: {names}; run `make compose-config`", file=sys.stderr)
        return 1
    if not stale:
        print("compose/ is up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; Faultyard errors print one line and return 2."""
    parser = argparse.ArgumentParser(prog="python -m chaos.compose", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write compose/ from the native stack's configuration")
    gen.add_argument("--check", action="store_true", help="only say whether compose/ is current")
    sub.add_parser("up", help="build and start the compose stack (needs a Docker engine)")
    down = sub.add_parser("down", help="stop the compose stack (needs a Docker engine)")
    down.add_argument("--volumes", action="store_true", help="remove its named volumes too")
    args = parser.parse_args(argv)
    try:
        if args.command == "generate":
            return generate(check=args.check)
        settings = load_stack_settings(target="compose")
        if args.command == "down":
            return engine.down(settings, volumes=args.volumes)
        code = engine.up(settings)
        if code == 0:
            for name, url in engine.urls(settings, ComposeSettings()).items():
                print(f"{name:<13} {url}")
        return code
    except FaultyardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
