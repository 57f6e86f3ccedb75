"""The engine view is an allow-list over every field of the engine's document
(engineview/core.py ``unlisted``): each field of the real documents (tests/assets/engine) is
compared or declared inert with a reason, and any field nobody listed FAILs the view naming it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from sandproof import engineview
from sandproof.engineview.core import COMPARED, MAX_UNLISTED, UNLISTED, Inert, _key, unlisted
from sandproof.inspector import judge
from tests.conftest import asset_json
from tests.test_engineview import Doc, _diffs, _doc, _engine_view, _with_view

RUNTIMES = ("docker", "podman", "runc")
CANARY = "sandproof-canary-value"


def _at(*path: str) -> Callable[[Doc], None]:
    """An edit adding the field ``path[-1]`` (a new knob) under ``path[:-1]`` (an int: a list's item)."""

    def edit(d: Doc) -> None:
        where: Any = d
        for part in path[:-1]:
            where = where[int(part)] if part.isdigit() else where[part]
        where[path[-1]] = CANARY

    return edit


NEW: dict[str, list[tuple[str, ...]]] = {
    "docker": [
        ("SizeRw",),
        ("HostConfig", "Annotations"),
        ("HostConfig", "LogConfig", "Path"),
        ("Config", "MacAddress"),
        ("Mounts", "0", "Name"),
    ],
    "podman": [
        ("Config", "ChrootDirs"),
        ("HostConfig", "Annotations"),
        ("Mounts", "0", "Name"),
        ("OCIConfig", "linux", "intelRdt"),
        ("OCIConfig", "process", "ioPriority"),
        ("OCIConfig", "hooks"),
        ("OCIConfig", "windows"),
    ],
    "runc": [
        ("config", "rlimits"),
        ("config", "intel_rdt"),
        ("config", "cgroups", "memory.max"),
        ("config", "mounts", "0", "idmap"),
        ("paused",),
    ],
}


def _pass(runtime: str) -> dict[str, Any]:
    return asset_json(f"{runtime}-default-pass.json")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_field_of_the_real_document_is_listed(runtime: str) -> None:
    assert unlisted(_doc(runtime), engineview.ADAPTERS[runtime].listing) == []
    assert UNLISTED not in _pass(runtime)["engine_view"]["fields"].values()


@pytest.mark.parametrize(
    ("runtime", "path"), [pytest.param(r, p, id=f"{r}-{'.'.join(p)}") for r, ps in NEW.items() for p in ps]
)
def test_a_field_nobody_listed_fails_the_view_naming_it(runtime: str, path: tuple[str, ...]) -> None:
    raw = _doc(runtime)
    _at(*path)(raw)
    evidence = _with_view(_pass(runtime), runtime, raw)
    name = ".".join(p if not p.isdigit() else "[]" for p in path).replace(".[]", "[]")
    assert _diffs(evidence) == [f"{name} is {UNLISTED}"]
    seen = _engine_view(evidence)
    assert seen.verdict == judge.FAIL
    assert f"{name} is recorded but neither compared nor declared inert" in seen.reason
    assert CANARY not in json.dumps(evidence["engine_view"])  # the name only, never the value


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_listed_field_is_compared_or_inert_with_a_one_line_reason(runtime: str) -> None:
    listing = engineview.ADAPTERS[runtime].listing
    for path, kind in listing.items():
        assert kind == COMPARED or (isinstance(kind, Inert) and kind.why.strip() and "\n" not in kind.why), path
    # a listed field covers its whole value: nothing under it is listed as well
    keys = {_key(p) for p in listing}
    assert not [k for k in keys if any(k[:i] in keys for i in range(1, len(k)))]


def test_a_key_holding_a_dot_is_not_the_listed_path_it_spells() -> None:
    raw = _doc("docker")
    raw["HostConfig"]["LogConfig.Type"] = "none"
    assert unlisted(raw, engineview.ADAPTERS["docker"].listing) == ["HostConfig.LogConfig.Type"]


def test_many_unlisted_fields_are_named_up_to_a_bound_and_counted() -> None:
    raw = _doc("docker")
    raw["HostConfig"] |= {f"Knob{i:03}": i for i in range(MAX_UNLISTED + 5)}
    fields = engineview.ADAPTERS["docker"].record(raw)["fields"]
    assert sum(v == UNLISTED for v in fields.values()) == MAX_UNLISTED + 1
    assert fields["5 more fields"] == UNLISTED
