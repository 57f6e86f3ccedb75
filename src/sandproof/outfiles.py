"""What ``attest`` owns in ``--out``: the files it writes, by their exact names, and nothing else.

A second run into the same directory replaces its own earlier files, an evidence file of
another date or venue included: ``verify DIR`` judges every evidence file below DIR, so a
stale one left beside the new would be judged as if it were this run's (issue 13). A file
attest did not write is never touched: it stops attest before anything runs, unless
``--force`` (then it stays, and only attest's own files are replaced).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from sandproof.capture import printable
from sandproof.errors import OutputError
from sandproof.inspector.wire import BUNDLE_NAME

REPORT_NAME = "report.md"
WRITE_TEST_PREFIX = ".sandproof-write-test-"
"""attest's check that --out is writable (a file it removes at once, left only by a kill)."""

# the venues evidence.venue() names, the date --run-date accepts (YYYY-MM-DD); attest --kind
# daemonset writes one evidence file per node (evidence.file_name, nodename.safe_name)
_EVIDENCE = r"sandbox-attestation-evidence-(?:ci|vps|local|mac-local)-\d{4}-\d{2}-\d{2}(?:-node-[a-z0-9._-]{1,63})?"
_FILE = rf"{_EVIDENCE}\.json|{re.escape(BUNDLE_NAME)}|{re.escape(REPORT_NAME)}"
_OWN = re.compile(
    rf"(?:{_FILE})"
    # `sandproof sign`'s default envelope of an earlier evidence file: verify DIR judges it too
    rf"|{_EVIDENCE}\.dsse\.json"
    # a file atomic.publish staged (mkstemp: "." + target + "." + 8 random characters) and
    # a write test, left only when a run was killed between writing and renaming
    rf"|\.(?:{_FILE})\.[a-z0-9_]{{8}}|{re.escape(WRITE_TEST_PREFIX)}[a-z0-9_]{{8}}",
    re.ASCII,
)
SHOWN = 3  # foreign names named in the refusal; the rest are counted


class Contents(NamedTuple):
    own: tuple[str, ...]
    """Regular files named as attest names them (an earlier run's)."""
    foreign: tuple[str, ...]
    """Everything else: other names, and directories, links or FIFOs named like attest's files."""


def owned(name: str) -> bool:
    return _OWN.fullmatch(name) is not None


def scan(out: Path) -> Contents:
    """What is in ``out`` now (nothing when it does not exist); never follows a link."""
    own: list[str] = []
    foreign: list[str] = []
    try:
        entries = list(os.scandir(out))
    except (FileNotFoundError, NotADirectoryError):
        return Contents((), ())
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot list it ({exc.strerror or exc})") from exc
    for entry in sorted(entries, key=lambda e: e.name):
        mine = owned(entry.name) and entry.is_file(follow_symlinks=False)
        (own if mine else foreign).append(entry.name)
    return Contents(tuple(own), tuple(foreign))


def check(out: Path, *, force: bool) -> Contents:
    """Refuse, touching nothing, a ``--out`` that holds files attest did not write, unless ``force``."""
    contents = scan(out)
    if contents.foreign and not force:
        names = ", ".join(printable(n) for n in contents.foreign[:SHOWN])
        more = len(contents.foreign) - SHOWN
        names += f" and {more} more" if more > 0 else ""
        raise OutputError(
            f"--out {out}: holds files attest did not write ({names}); give an empty or new directory, "
            "or --force to replace only attest's own files there"
        )
    return contents


def clear(out: Path, *, keep: frozenset[str]) -> None:
    """Remove attest's own earlier files from ``out``, all but ``keep`` (this run's)."""
    for name in scan(out).own:
        if name not in keep:
            try:
                (out / name).unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise OutputError(f"--out {out}: cannot remove the earlier {name} ({exc.strerror})") from exc
