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
import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

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


@dataclass(frozen=True)
class Inert:
    """A field of the engine's document that is not the sandbox's shape, and why (engine-chosen
    names and paths, the run's lifecycle, what only Windows reads)."""

    why: str


COMPARED = "compared"
"""A field whose value the projection keeps and the check compares with the profile's."""
Listing = Mapping[str, str | Inert]
"""Every field of one engine's document: dotted path (``[]`` for a list's items) -> ``COMPARED``
or ``Inert``. A listed path covers its whole value; an object (or list of objects) above a
listed path is walked, and each of its keys must be listed in turn."""
UNLISTED = "recorded but neither compared nor declared inert"
"""The value ``record`` gives a field of the document that its listing does not name: the
check FAILs on it, as on any field it does not compare."""
MAX_UNLISTED = 32
"""How many unlisted fields a record names (one more entry counts the rest)."""


def _key(path: str) -> tuple[str, ...]:
    return tuple(path.replace("[]", ".[]").split("."))


def _dotted(key: tuple[str, ...]) -> str:
    return ".".join(key).replace(".[]", "[]")


_KEYS: dict[int, tuple[Listing, set[tuple[str, ...]], set[tuple[str, ...]]]] = {}
"""A listing's listed and walked paths, built once per listing (the tables are constants)."""


def _keys(listing: Listing) -> tuple[set[tuple[str, ...]], set[tuple[str, ...]]]:
    hit = _KEYS.get(id(listing))
    if hit is None or hit[0] is not listing:
        listed = {_key(p) for p in listing}
        hit = _KEYS[id(listing)] = (listing, listed, {k[:i] for k in listed for i in range(1, len(k))})
    return hit[1], hit[2]


def unlisted(doc: Mapping[str, Any], listing: Listing) -> list[str]:
    """The paths of ``doc`` that ``listing`` neither names nor walks into: an engine that grew a
    field makes the view FAIL until someone says whether it is compared or inert. Paths are
    tuples, so a key holding a dot never passes for a listed path."""
    listed, walked = _keys(listing)
    out: list[str] = []

    def walk(value: object, at: tuple[str, ...]) -> None:
        if isinstance(value, list) and (*at, "[]") in walked:
            for item in value:
                walk(item, (*at, "[]"))
        elif isinstance(value, Mapping):
            for k, v in value.items():
                here = (*at, str(k))
                if here in listed:
                    continue
                if here in walked:
                    walk(v, here)
                else:
                    out.append(_dotted(here))

    walk(doc, ())
    return sorted(set(out))


def meets(value: object, want: Expected) -> bool:
    if isinstance(want, OneOf):
        return any(_same(value, v) for v in want.values)
    if isinstance(want, Matches):
        return isinstance(value, str) and re.fullmatch(want.pattern, value) is not None
    return _same(value, want)


def _same(a: object, b: object) -> bool:
    """JSON equality: a bool is not a number (True == 1 in Python), a tuple is a list."""
    return _canon(a) == _canon(b)


def _canon(value: object) -> bytes:
    try:  # orjson: ~10x the stdlib's speed on a seccomp policy, and true is not 1 in it either
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer past 64 bits
        return json.dumps(value, sort_keys=True, default=list).encode()


def shown(want: Expected) -> str:
    if isinstance(want, OneOf):
        return " or ".join(_short(v) for v in want.values)
    if isinstance(want, Matches):
        return f"text matching {want.pattern!r}"
    return _short(want)


def _short(value: object, limit: int = 160) -> str:
    text = json.dumps(value, sort_keys=True, default=list)
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
    seccomp_file: str = ""
    """podman: the seccomp file the argv names (its inspect records the path, not the policy)."""
    rootless: bool = False
    """podman: the run was rootless (as the evidence says; it changes only podman's own defaults)."""
    run_date: str = ""
    """The run's date, an argument of the harness (podman: its OCI config's process.args)."""
    podman_run: str = ""
    podman_static: str = ""
    """podman: ``<run root>/<driver>-containers`` and ``<graph root>/<driver>-containers``, from
    the argv's engine options (the directories its own mounts come from)."""


class Adapter(abc.ABC):
    """One runtime's view: what to keep of its document, and what the profile says it must be."""

    runtime: str
    source: str
    """Where the view comes from, for the record and the report."""

    listing: Listing
    """Every field of the engine's document: compared, or inert with a reason."""

    @abc.abstractmethod
    def project(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The compared fields of the engine's document, keyed by the engine's own field names
        (``HostConfig.CpuShares``). Raises ``ValueError`` for a document of another shape."""

    @abc.abstractmethod
    def expected(self, profile: Profile, ctx: Context) -> dict[str, Expected]:
        """The same fields as the profile derives them (every key ``project`` returns)."""

    per_run: frozenset[str] = frozenset()
    """The expected fields that take a per-run fact of the context (``PER_RUN``: a host path,
    the run's date, runc's cgroup), computed for each bundle by ``per_run_fields`` (with the
    very helpers ``expected`` uses for them); every other field is derived once per profile
    (``expected_for``). Empty: every field is derived for each bundle."""

    def per_run_fields(self, profile: Profile, ctx: Context) -> dict[str, Expected]:
        """The ``per_run`` fields of ``expected(profile, ctx)``, alone."""
        raise NotImplementedError(type(self).__name__)

    def record(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The evidence's ``engine_view``: the projection, bounded, never an environment value,
        and the name of every field of the document the listing does not know (``UNLISTED``,
        no value): the raw document stays here, the verifier reads only names."""
        try:
            fields = self.project(raw)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return problem(self.runtime, self.source, f"the engine's document has another shape: {exc}")
        extra = unlisted(raw, self.listing)
        fields |= dict.fromkeys(extra[:MAX_UNLISTED], UNLISTED)
        if len(extra) > MAX_UNLISTED:
            fields[f"{len(extra) - MAX_UNLISTED} more fields"] = UNLISTED
        view = {"runtime": self.runtime, "source": self.source, "fields": fields}
        size = len(json.dumps(view))
        if size > MAX_RECORD_BYTES:
            return problem(self.runtime, self.source, f"the engine's view is {size} bytes, over {MAX_RECORD_BYTES}")
        return view


PER_RUN = ("in_dir", "out_dir", "cgroup", "run_date", "seccomp_file", "podman_run", "podman_static")
"""The context's facts that differ from run to run (attest's directories, the date, runc's
cgroup, podman's engine paths): a directory of one profile's bundles shares the rest."""


class Expectation(dict[str, Expected]):
    """``expected_for``'s answer: the fields, and what of them is the profile's alone, read once
    per profile for ``differences``: its OneOf and Matches fields, and the names and canonical
    text of its plain ones (the ``per_run`` fields are read for each bundle)."""

    special: tuple[tuple[str, OneOf | Matches], ...] = ()
    plain: tuple[str, ...] = ()
    canon: bytes = b""
    per_run: frozenset[str] = frozenset()


class _Derived(NamedTuple):
    fields: dict[str, Expected]
    special: tuple[tuple[str, OneOf | Matches], ...]
    plain: tuple[str, ...]
    canon: bytes


_PROFILE_ONLY: dict[tuple[str, str, Context], _Derived] = {}


def _derive(adapter: Adapter, profile: Profile, blank: Context) -> _Derived:
    fields = adapter.expected(profile, blank)
    own = {k: v for k, v in fields.items() if k not in adapter.per_run}
    special = tuple((k, v) for k, v in own.items() if isinstance(v, OneOf | Matches))
    plain = {k: v for k, v in own.items() if not isinstance(v, OneOf | Matches)}
    return _Derived(fields, special, tuple(plain), _canon(plain))


def expected_for(adapter: Adapter, profile: Profile, ctx: Context) -> dict[str, Expected]:
    """``adapter.expected(profile, ctx)``, its fields that take no per-run fact derived once:
    ``expected`` of the context with those facts blank cannot read them, so each of its fields
    outside ``per_run`` is the one every run of this profile gets (``tests/test_engineview.py``
    holds the two equal, key order included). The derived values are shared: never changed."""
    if not adapter.per_run:
        return adapter.expected(profile, ctx)
    blank = dataclasses.replace(
        ctx, in_dir="", out_dir="", cgroup="", run_date="", seccomp_file="", podman_run="", podman_static=""
    )  # every name of PER_RUN
    key = (adapter.runtime, profile.digest, blank)
    try:
        derived = _PROFILE_ONLY.get(key)
        if derived is None:
            if len(_PROFILE_ONLY) >= 32:  # a verification judges one or a few profiles
                _PROFILE_ONLY.clear()
            derived = _PROFILE_ONLY[key] = _derive(adapter, profile, blank)
        run = adapter.per_run_fields(profile, ctx)
    except (KeyError, TypeError, ValueError, AttributeError):  # then whatever the whole derivation says
        return adapter.expected(profile, ctx)
    out = Expectation({**derived.fields, **run})  # the per-run fields replace the blank context's, in place
    out.special, out.plain, out.canon, out.per_run = derived.special, derived.plain, derived.canon, adapter.per_run
    return out


def problem(runtime: str, source: str, why: str) -> dict[str, Any]:
    """A view that could not be recorded: the check FAILs with this reason."""
    return {"runtime": runtime, "source": source, "problem": why[:1000]}


SHOWN_PARTS = 3
"""How many differing parts of one field a reason names (a list's extra items, a policy's rules)."""
SECCOMP_OPT = "seccomp="


def _all_met(fields: Mapping[str, Any], expected: Mapping[str, Expected]) -> bool:
    """Whether every expected field is recorded and met and nothing else is, decided with one
    canonical text for the plain values: two objects with the same keys are equal as JSON
    exactly when each key's values are (a view compares ~100 fields: one encoding, not 200)."""
    if fields.keys() != expected.keys():
        return False
    if isinstance(expected, Expectation):
        return _all_met_derived(fields, expected)
    plain = {}
    for name, want in expected.items():
        if isinstance(want, OneOf | Matches):
            if not meets(fields[name], want):
                return False
        else:
            plain[name] = want
    return _canon({name: fields[name] for name in plain}) == _canon(plain)


def _all_met_derived(fields: Mapping[str, Any], expected: Expectation) -> bool:
    """``_all_met`` with the profile's own fields read once: its OneOf and Matches fields met
    one by one, the canonical text of its plain fields compared whole, and the per-run fields
    as ``_all_met`` reads them. The plain fields split in two parts with the same keys on both
    sides: the whole is equal as JSON exactly when each part is."""
    for name, special in expected.special:
        if not meets(fields[name], special):
            return False
    run: dict[str, Expected] = {}
    for name in expected.per_run:
        want = expected[name]
        if isinstance(want, OneOf | Matches):
            if not meets(fields[name], want):
                return False
        else:
            run[name] = want
    if _canon({name: fields[name] for name in expected.plain}) != expected.canon:
        return False
    return _canon({name: fields[name] for name in run}) == _canon(run)


def differences(fields: Mapping[str, Any], expected: Mapping[str, Expected]) -> list[str]:
    """Every expected field the engine's view does not meet: one entry per field, naming it
    and what in it differs."""
    if _all_met(fields, expected):
        return []
    out = []
    for name, want in expected.items():
        if name not in fields:
            out.append(f"{name} not recorded")
        elif not meets(fields[name], want):
            got = fields[name]
            parts = [f"{name} is {_short(got)}, the profile says {shown(want)}"]
            if not isinstance(want, OneOf | Matches):
                parts = describe(name, got, want) or parts
            more = f" (and {len(parts) - SHOWN_PARTS} more)" if len(parts) > SHOWN_PARTS else ""
            out.append(", ".join(parts[:SHOWN_PARTS]) + more)
    out += [f"{name} is {UNLISTED}" for name in fields if name not in expected]
    return out


def describe(path: str, got: object, want: object) -> list[str]:
    """What differs between two JSON values, down to the part: a key, a list's item, a rule of
    a seccomp policy (Docker keeps the policy as the text of a ``seccomp=`` option)."""
    if _same(got, want):
        return []
    if isinstance(got, dict) and isinstance(want, dict):
        out = [f"{path}.{k} is absent" for k in want if k not in got]
        out += [f"{path}.{k} is {_short(got[k])}, not in the profile" for k in got if k not in want]
        return out + [d for k in want if k in got for d in describe(f"{path}.{k}", got[k], want[k])]
    if isinstance(got, list) and isinstance(want, list):
        return _describe_list(path, got, want)
    if isinstance(got, str) and isinstance(want, str) and got.startswith(SECCOMP_OPT) and want.startswith(SECCOMP_OPT):
        try:
            return describe(
                f"{path} seccomp", json.loads(got[len(SECCOMP_OPT) :]), json.loads(want[len(SECCOMP_OPT) :])
            )
        except ValueError:
            return [f"{path} seccomp is not JSON"]
    return [f"{path} is {_short(got)}, the profile says {_short(want)}"]


def _describe_list(path: str, got: list[Any], want: list[Any]) -> list[str]:
    if len(got) == len(want):  # the same items, one changed: say where
        changed = [describe(f"{path}[{i}]", g, w) for i, (g, w) in enumerate(zip(got, want, strict=True))]
        if sum(bool(c) for c in changed) == 1:
            return next(c for c in changed if c)
    seen, wanted = {_canon(x) for x in got}, {_canon(x) for x in want}
    out = [f"{path} has {_short(x)}, not in the profile" for x in got if _canon(x) not in wanted]
    out += [f"{path} lacks {_short(x)}" for x in want if _canon(x) not in seen]
    return out or [f"{path} is in another order than the profile's"]
