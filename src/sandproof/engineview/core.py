"""What an engine view is: a runtime's own record of the sandbox it made, projected to the
fields sandproof compares, and the expectation the same fields must meet, derived from the
profile alone (never from the bundle).

An ``Adapter`` does both halves for one runtime. Docker and Podman answer an inspect
document, runc and runsc keep a libcontainer state; each plugs in as one adapter
(``engineview.ADAPTERS``), and the comparison, the record's bounds and the check's reasons
are the same for all of them.
"""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandproof.profile import Profile
from sandproof.workload.carried import Workload

MAX_RECORD_BYTES = 512 << 10
"""A seccomp allowlist's text is the largest field (~20 KiB); anything near this is not an engine's."""
SHOWN_DIFFERENCES = 6
"""How many differing fields a reason names in full (all are counted)."""


@dataclass(frozen=True)
class OneOf:
    """A field the engine may fill with any of a few documented defaults (e.g. the AppArmor
    profile, "docker-default" where AppArmor is enabled and "" where it is not)."""

    values: tuple[object, ...]


@dataclass(frozen=True)
class Matches:
    """A text field that must match ``pattern`` whole (an SELinux label with its random MCS pair)."""

    pattern: str


Expected = object
"""A plain JSON value (equal), ``OneOf`` or ``Matches``."""


def meets(value: object, want: Expected) -> bool:
    if isinstance(want, OneOf):
        return any(_same(value, v) for v in want.values)
    if isinstance(want, Matches):
        return isinstance(value, str) and re.fullmatch(want.pattern, value) is not None
    return _same(value, want)


def _same(a: object, b: object) -> bool:
    # JSON equality: bool is not int (True == 1 in Python), tuples are lists
    return _canon(a) == _canon(b)


def _canon(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=list)


def shown(want: Expected) -> str:
    if isinstance(want, OneOf):
        return " or ".join(_short(v) for v in want.values)
    if isinstance(want, Matches):
        return f"text matching {want.pattern!r}"
    return _short(want)


def _short(value: object, limit: int = 160) -> str:
    text = _canon(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


@dataclass(frozen=True)
class Context:
    """The per-run facts the expectation needs beside the profile: the host paths attest made
    for this run (bound to the profile by the "rendered" check) and the image derived for it."""

    in_dir: str
    out_dir: str
    image_id: str
    cgroup: str = ""
    """runc: the container's cgroup path (its last part is the container ID)."""
    workload: Workload | None = None
    given: Mapping[str, Any] | None = None
    """runc: the OCI config it was given, as the evidence records it (env names only)."""


class Adapter(abc.ABC):
    """One runtime's view: what to keep of its document, and what the profile says it must be."""

    runtime: str
    source: str
    """Where the view comes from, for the record and the report."""

    @abc.abstractmethod
    def project(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The compared fields of the engine's document, keyed by the engine's own field names
        (``HostConfig.CpuShares``). Raises ``ValueError`` for a document of another shape."""

    @abc.abstractmethod
    def expected(self, profile: Profile, ctx: Context) -> dict[str, Expected]:
        """The same fields as the profile derives them (every key ``project`` returns)."""

    def given(self, cfg: Mapping[str, Any]) -> dict[str, Any]:  # noqa: ARG002 - only runc's state needs it
        """Fields read from the config the runtime was given, where its own view lacks them."""
        return {}

    def record(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The evidence's ``engine_view``: the projection, bounded, never an environment value."""
        try:
            fields = self.project(raw)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return problem(self.runtime, self.source, f"the engine's document has another shape: {exc}")
        view = {"runtime": self.runtime, "source": self.source, "fields": fields}
        size = len(json.dumps(view))
        if size > MAX_RECORD_BYTES:
            return problem(self.runtime, self.source, f"the engine's view is {size} bytes, over {MAX_RECORD_BYTES}")
        return view


def problem(runtime: str, source: str, why: str) -> dict[str, Any]:
    """A view that could not be recorded: the check FAILs with this reason."""
    return {"runtime": runtime, "source": source, "problem": why[:1000]}


def differences(fields: Mapping[str, Any], expected: Mapping[str, Expected]) -> list[str]:
    """Every expected field the engine's view does not meet, named, with both values."""
    out = []
    for name, want in expected.items():
        if name not in fields:
            out.append(f"{name} not recorded")
        elif not meets(fields[name], want):
            out.append(f"{name} is {_short(fields[name])}, the profile says {shown(want)}")
    out += [f"{name} is not a compared field" for name in fields if name not in expected]
    return out
