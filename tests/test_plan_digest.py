"""The plan's digest is the sha256 of json.dumps's canonical text, byte for byte, whichever
encoder wrote it: recorded bundles carry digests made by json.dumps."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from sandproof import plan, profile


def _json_digest(body: dict[str, Any]) -> str:
    core = {k: v for k, v in body.items() if k not in ("sha256", "run_date")}
    return hashlib.sha256(json.dumps(core, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@pytest.mark.parametrize("runtime", plan.RUNTIMES)
def test_every_shipped_plan_has_json_dumps_digest(runtime: str) -> None:
    for name in profile.SHIPPED:
        body = plan.build(profile.load(name), runtime)
        assert body["sha256"] == _json_digest(body), (name, runtime)


@pytest.mark.parametrize(
    "body",
    [
        {"a": 1e-05},  # orjson: 0.00001
        {"a": 1.5e-7, "b": "x"},  # orjson: 1.5e-7
        {"a": "é"},  # orjson keeps it raw, json escapes it
        {"a": 1 << 70},  # orjson refuses it
        {"a": "\ud800"},  # a lone surrogate: orjson refuses it
        {"runtime-seccomp": 2.0, "e-1": [1e16, 0.0001], "sha256": "dropped", "run_date": "dropped"},
    ],
)
def test_digest_where_orjson_writes_otherwise(body: dict[str, Any]) -> None:
    assert plan.digest(body) == _json_digest(body)
