"""What a doctor rule is and what it finds: values only (the rules live one family per module)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandproof.profile import Profile


class Level(StrEnum):
    """SARIF's levels: an error or a warning fails ``doctor`` (exit 1); a note is advice."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Hit:
    """One thing a rule found, before it is placed in a file."""

    message: str
    subject: str
    """What was found, stable across edits elsewhere in the file (a syscall family, a path,
    an expression): with the rule ID and the file it makes the SARIF fingerprint."""
    key: str = ""
    """The dotted TOML key it is about (``seccomp.rules``), for a profile."""
    token: str | None = None
    """A word on or after the key's line that places it more exactly (``"execve"``)."""
    line: int = 0
    """The line itself, when the rule read it (a workflow, a seccomp JSON)."""


@dataclass(frozen=True)
class SeccompFile:
    """A rendered or written seccomp JSON (an init layout's), as parsed."""

    path: str
    text: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Workflow:
    """A GitHub Actions workflow file: its text, and its YAML node tree (line numbers kept)."""

    path: str
    text: str
    root: Any
    """A ``yaml.Node``; Any so that PyYAML is imported only when a workflow is read."""


@dataclass(frozen=True)
class Rule:
    """A lint rule: a stable ID, what it checks, why it matters and how to fix it."""

    id: str
    title: str
    why: str
    fix: str
    level: Level
    profile: Callable[[Profile], Iterator[Hit]] | None = None
    seccomp: Callable[[SeccompFile], Iterator[Hit]] | None = None
    workflow: Callable[[Workflow], Iterator[Hit]] | None = None


@dataclass(frozen=True)
class Finding:
    """A hit placed in a file, with the waiver that accepts it, if any."""

    rule: Rule
    message: str
    subject: str
    path: str
    """The file as the user named it (or the shipped profile's file)."""
    uri: str
    """The same, as a SARIF artifact URI (relative to the directory doctor was given)."""
    line: int
    waived: str | None = None
    """The waiver's reason: shown in every report, and the finding no longer fails the run."""

    @property
    def fails(self) -> bool:
        return self.waived is None and self.rule.level != Level.NOTE


@dataclass(frozen=True)
class Result:
    """One doctor run: every finding (waived ones included), the rules it ran, and what it read."""

    target: str
    files: tuple[str, ...]
    findings: tuple[Finding, ...]
    rules: tuple[Rule, ...]
    unused_waivers: tuple[tuple[str, str], ...] = ()
    """(rule, reason) of waivers that matched nothing: shown, so a stale one is noticed."""

    @property
    def ok(self) -> bool:
        return not any(f.fails for f in self.findings)
