"""The typed bundle (``model``) states the shipped JSON Schemas, which stay the published
contract: both accept the recorded bundles and, field by field, accept and refuse the same
forged ones. The one difference is deliberate and pinned here: an integral float (``0.0``)
where an integer is required, which draft-07 calls an integer and the verifier refuses
(1.0 == 1 would hide an edit)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandproof import bundle, crosscheck, model
from sandproof.errors import BundleError
from tests.conftest import ASSETS

BUNDLES = sorted((ASSETS / "bundles").glob("*.json"))
# free-form JSON in both (``"type": "object"`` / ``dict[str, Json]``): only their root is forged
OPAQUE = frozenset({"observation", "expected", "oci_config", "abis", "venue_identity"})
VARIANTS: tuple[object, ...] = (None, True, -1, 0.5, "x" * 70_000, "", [], {"x": 1})
Path = tuple[str | int, ...]


def _paths(value: object, path: Path = ()) -> Iterator[Path]:
    yield path
    if path and path[-1] in OPAQUE:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:1]):  # every record has the same shape: one is enough
            yield from _paths(v, (*path, i))


def _set(doc: dict[str, Any], path: Path, value: object) -> None:
    holder: Any = doc
    for p in path[:-1]:
        holder = holder[p]
    holder[path[-1]] = value


def _delete(doc: dict[str, Any], path: Path) -> None:
    holder: Any = doc
    for p in path[:-1]:
        holder = holder[p]
    if isinstance(holder, dict):
        del holder[path[-1]]
    else:
        holder.pop(path[-1])


def schema_ok(doc: dict[str, Any]) -> bool:
    try:
        bundle.validate_json_schema(doc, "t")
    except BundleError:
        return False
    return True


def model_ok(doc: dict[str, Any]) -> bool:
    try:
        bundle.validate(doc, "t")
    except BundleError:
        return False
    return True


def _forgeries(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    raw = orjson.dumps(doc)  # each forgery edits a fresh copy: parsed again, ~4x faster than copy.deepcopy

    def fresh() -> dict[str, Any]:
        copied: dict[str, Any] = orjson.loads(raw)
        return copied

    for path in list(_paths(doc))[1:]:
        for value in VARIANTS:
            forged = fresh()
            _set(forged, path, value)
            yield f"{path}={str(value)[:20]}", forged
        forged = fresh()
        _delete(forged, path)
        yield f"{path} deleted", forged
        if isinstance(_get(doc, path), dict):
            forged = fresh()
            _set(forged, (*path, "unknown_field"), 1)
            yield f"{path}.unknown_field", forged


def _get(doc: dict[str, Any], path: Path) -> object:
    holder: Any = doc
    for p in path:
        holder = holder[p]
    return holder


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem)
def test_recorded_bundles_are_accepted_by_both(path: Any) -> None:
    doc = json.loads(path.read_bytes())
    assert schema_ok(doc)
    assert model_ok(doc)


@pytest.mark.long
@pytest.mark.parametrize("name", ["docker-default-pass", "docker-seed-nostart", "seed-v1-docker-default"])
def test_forged_fields_get_the_same_answer(name: str) -> None:
    doc = json.loads((ASSETS / "bundles" / f"{name}.json").read_bytes())
    disagree = [what for what, forged in _forgeries(doc) if schema_ok(forged) != model_ok(forged)]
    assert disagree == []


@pytest.mark.parametrize("field", ["container_exit", "summary.total", "raw.startup.fds.0", "host.stdout_bytes"])
def test_an_integral_float_is_refused_where_the_schema_takes_it(docker_pass: dict[str, Any], field: str) -> None:
    path: Path = tuple(int(p) if p.isdigit() else p for p in field.split("."))
    forged = copy.deepcopy(docker_pass)
    _set(forged, path, float(_get(forged, path)))  # type: ignore[arg-type]
    assert schema_ok(forged)
    assert not model_ok(forged)


def test_the_typed_bundle_is_frozen(docker_pass: dict[str, Any]) -> None:
    typed = model.from_json(docker_pass)
    assert isinstance(typed, model.EvidenceBundle)
    with pytest.raises(AttributeError):
        typed.venue = "ci"  # type: ignore[misc]


# ---- the fast shape reading is the exact one ----

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(st.characters(), max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
PATHS = st.builds(lambda a, b: f"/{a}{b}", st.text(max_size=4), st.sampled_from(["", " ", "\n", "\t", "\u200b", "x"]))


@settings(max_examples=600, deadline=None, derandomize=True)
@given(value=st.dictionaries(st.text(max_size=6) | PATHS, JSON | PATHS, max_size=4))
def test_fast_shape_reading_matches_the_exact_one(value: dict[str, object]) -> None:
    assert crosscheck.shape_problem(value) == crosscheck._exact(value)
