"""Options shared by several commands."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from sandproof import contract

PROFILE_HELP = f"a shipped profile ({', '.join(contract.SHIPPED_PROFILES)}) or a profile TOML file (default: default)"


def add_profile(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--profile", default="default", metavar="NAME|FILE", help=PROFILE_HELP)


def add_image(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--image",
        metavar="REF",
        help="the user's image the harness is carried into: busybox, example or an image of the local "
        "Docker engine (sets the profile's [image] workload)",
    )


class Formatter(argparse.HelpFormatter):
    """Paragraphs wrapped to the terminal as argparse does; a paragraph whose lines are indented
    (the examples) kept exactly as written, so a command can be copied from the help."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = text.split("\n\n")
        return "\n\n".join(
            "\n".join(indent + line for line in para.splitlines())
            if "\n  " in para
            else super(Formatter, self)._fill_text(para, width, indent)
            for para in paragraphs
        )


def examples(*lines: str) -> str:
    """An epilog paragraph of commands, one a line, kept as written by ``Formatter``."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job cancelled, ``kill``) cleans up as Ctrl-C does: the container is
    killed and removed, the run directory deleted, a weakening's host setup undone (selftest:
    review 17 found a loop device left attached). Only from the main thread (signal(2))."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
