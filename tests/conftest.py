"""Shared fixtures. Engine tests never skip: a missing engine is a failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ASSETS = Path(__file__).parent / "assets"
RUN_DATE = "2026-11-28"


def asset_json(name: str) -> dict[str, Any]:
    data = json.loads((ASSETS / "bundles" / name).read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture
def docker_pass() -> dict[str, Any]:
    return asset_json("docker-default-pass.json")


@pytest.fixture
def runc_pass() -> dict[str, Any]:
    return asset_json("runc-default-pass.json")
