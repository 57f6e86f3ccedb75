"""Generated broken profiles: each is refused with one ProfileError line, or it renders
and its plan builds on both runtimes. Never a traceback (issue 9)."""

from __future__ import annotations

import copy
import math
import tomllib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandproof import plan, profile, seccomp, sweep
from sandproof.errors import ProfileError
from sandproof.inspector import syscall_table
from sandproof.render import docker, oci

BASES = {name: tomllib.loads(profile.load(name).text) for name in profile.SHIPPED}
# names that tempt every check: real calls without a sweep entry, calls missing on aarch64,
# near-misses, entries the sweep has, errno-like words
SYSCALLS = sorted(syscall_table.X86_64)
WORDS = [*sorted(sweep.BASE_ARGS), "open", "getpid", "clone", "kcmpp", "EPERM", "ENOSYS", "EFOO", "CAP_FOO", "net_raw"]
WORDS += ["/", "/tmp", "/out", "/in", "/tmp/x", "/dev/mqueue", "/a:b", "ro", "rw", "exec", "size=lots", "mode=abc"]
WORDS += ["size=1g", "mode=1777", "A=B", "", "host", "none", "private", "x86_64", "aarch64", "1.1.1.1:53", "unlimited"]

scalars = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(SYSCALLS),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=12),  # TOML has no lone surrogates
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(WORDS), inner, max_size=3)),
    max_leaves=8,
)


def _toml(value: Any) -> str:
    """Any generated value as TOML (inline tables only)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{_string(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def _string(text: str) -> str:
    """A TOML basic string: control characters (DEL too) escaped, everything else as is."""
    body = "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F or c in '"\\' else c for c in text)
    return f'"{body}"'


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


def _like(value: Any) -> st.SearchStrategy[Any]:
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.one_of(st.integers(-1, 70000), st.integers(min_value=-(2**64), max_value=2**64))
    if isinstance(value, float):
        return st.floats(allow_nan=True, allow_infinity=True)
    if isinstance(value, str):
        return st.one_of(st.sampled_from(WORDS), st.sampled_from(SYSCALLS), st.just(value + "x"))
    if isinstance(value, list) and value:
        return st.lists(_like(value[0]), min_size=1, max_size=len(value) + 2).map(lambda new: [*value, *new][-8:])
    return values


@st.composite
def broken(draw: st.DrawFn) -> str:
    data = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)[1:]))
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "same-type", "same-type", "delete", "add", "append"]))
        if action == "same-type":  # a plausible value: passes the type check, tempts the rest
            parent[path[-1]] = draw(_like(parent[path[-1]]))
        elif action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(WORDS))] = draw(values)
        elif action == "append" and isinstance(parent[path[-1]], list):
            parent[path[-1]].append(draw(values))
        else:
            parent[path[-1]] = draw(values)
    if not isinstance(data, dict):
        return ""
    return _document(data)


def _document(data: dict[str, Any]) -> str:
    return "\n".join(f"{_string(k)} = {_toml(v)}" for k, v in data.items()) + "\n"


def _use(p: profile.Profile) -> None:
    """Everything a loaded profile feeds: the renderers and both plans."""
    seccomp.render(p)
    oci.config(p, in_dir="/i", out_dir="/o", run_date="2026-01-01")
    plan.build(p, "runc")
    plan.build(p, "docker")
    try:
        docker.argv(p, in_dir="/i", out_dir="/o", seccomp_file="/s.json", run_date="2026-01-01")
    except ProfileError as exc:  # what docker run cannot express (ulimit as): refused, one line
        message = exc.message
        assert message.isprintable(), message


# derandomize, as every other property here: the same 400 profiles every run, so a CI run's
# outcome is this tree's, never the seed's (vary the seed locally to explore)
@pytest.mark.long
@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(broken())
def test_broken_profiles_are_refused_in_one_line_or_work(text: str) -> None:
    try:
        p = profile.parse(text, "gen.toml")
    except ProfileError as exc:
        message = exc.message
    else:
        _use(p)
        return
    assert message.isprintable(), message  # one line, no control character
    assert message.startswith("profile gen.toml"), message


def test_the_generator_round_trips_the_shipped_profiles() -> None:
    for name, data in BASES.items():
        assert profile.parse(_document(data), name).digest == profile.load(name).digest
