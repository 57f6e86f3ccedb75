"""The ``sandproof`` command. One module per subcommand; ``main(argv)`` is testable.

Exit codes everywhere: 0 PASS/ok, 1 FAIL (a verdict), 2 error (bad input, no engine, I/O).
"""

from __future__ import annotations

import argparse
import sys

from sandproof import __version__
from sandproof.cli import attest, image, init, profile, render, schema, selftest, sign, verify
from sandproof.errors import Error

COMMANDS = (attest, verify, selftest, sign, init, render, profile, image, schema)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="sandproof",
        description="Prove that a deny-by-default container sandbox holds: one profile, probes run "
        "inside the sandbox, an evidence bundle, a verdict recomputed from the facts.",
    )
    ap.add_argument("--version", action="version", version=f"sandproof {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except Error as exc:
        print(f"sandproof: error: {exc.message}", file=sys.stderr)
        return 2
    except OSError as exc:  # I/O the commands did not name themselves: still one line, exit 2
        where = f" {exc.filename}" if exc.filename else ""
        print(f"sandproof: error:{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sandproof: interrupted", file=sys.stderr)
        return 2
    return code
