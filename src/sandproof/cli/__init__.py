"""The ``sandproof`` command. One module per subcommand; ``main(argv)`` is testable.

Exit codes everywhere: 0 PASS/ok, 1 FAIL (a verdict), 2 error (bad input, no engine, I/O,
or a bug: an unexpected exception is one line and a traceback file, never a bare
traceback with exit 1, which would read as FAIL).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import tempfile
import traceback
from typing import Any, NoReturn

from sandproof import __version__, contract
from sandproof.cli import (
    attest,
    cache,
    doctor,
    image,
    init,
    learn,
    profile,
    render,
    run,
    schema,
    selftest,
    sign,
    verify,
)
from sandproof.errors import Error

COMMANDS = (attest, verify, run, selftest, sign, init, render, profile, image, learn, schema, doctor, cache)

_CHOICE = re.compile(r"invalid choice: '(?P<given>[^']*)' \(choose from (?P<known>.*)\)$")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is ONE line (what, which command, where the help is), with
    the closest name for a mistyped choice; every subcommand's parser is of this class too."""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        ns, extra = super().parse_known_args(args, namespace)
        if not hasattr(ns, "_parser"):  # the innermost (sub)command's parser: it names the mistake
            ns._parser = self
        return ns, extra

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"sandproof: error: {_suggest(message)} (see `{self.prog} --help`)\n")


def _suggest(message: str) -> str:
    found = _CHOICE.search(message)
    if found is None:
        return message
    known = re.findall(r"'([^']*)'", found["known"])
    close = difflib.get_close_matches(found["given"], known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{message[: found.start()]}invalid choice: {found['given']!r} ({hint}choose from {found['known']})"


def parser() -> argparse.ArgumentParser:
    ap = Parser(
        prog="sandproof",
        description="Prove that a deny-by-default container sandbox holds: one profile, probes run "
        "inside the sandbox, an evidence bundle, a verdict recomputed from the facts.",
        epilog=contract.CACHE_HELP,
    )
    ap.add_argument("--version", action="version", version=f"sandproof {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args, extra = ap.parse_known_args(argv)
    if extra:  # named by the command they were given to, not by the top level
        getattr(args, "_parser", ap).error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        from sandproof import safedir

        safedir.check_tempdir()
        code: int = args.func(args)
    except Error as exc:
        from sandproof.report import visible

        print(f"sandproof: error: {visible(exc.message)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped (``| head``): its choice, not an error to print
        _quiet_stdout()
        return 2
    except OSError as exc:  # I/O the commands did not name themselves: still one line, exit 2
        from sandproof.report import visible

        where = f"{exc.filename}: " if exc.filename else ""
        print(f"sandproof: error: {visible(where)}{visible(exc.strerror or exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sandproof: interrupted", file=sys.stderr)
        return 2
    except Exception as exc:  # the one place every bug becomes exit 2 and a file
        print(f"sandproof: internal error: {type(exc).__name__} {_save_traceback()}", file=sys.stderr)
        return 2
    return code


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: the interpreter's own flush at exit would fail on the closed
    pipe again and print "Exception ignored ... BrokenPipeError" (Python docs, signal: SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (a test's capture): nothing to flush there
        pass


def _save_traceback() -> str:
    """Write the current exception's traceback to a private file; say where, or why not."""
    try:
        fd, path = tempfile.mkstemp(prefix="sandproof-traceback-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            traceback.print_exc(file=f)
    except OSError as exc:
        return f"(no traceback file: {exc.strerror})"
    return f"(traceback in {path})"
