"""Shared fixtures. Engine tests never skip: a missing engine is a failure.

Under pytest-xdist (``scripts/test.sh``: ``-n auto --dist loadgroup``) the engine tests of one
runtime run in one worker, one after another, and each runtime's in a worker of its own: what
one runtime's tests leave (the image tag Docker swaps, runc's state directory) is seen only
by that runtime's next test. The runtime is the test's ``runtime`` parameter, or the argument
of its ``engine`` mark where it has no such parameter (``@pytest.mark.engine("docker")``); a
new runtime's tests join their own group without an edit here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ASSETS = Path(__file__).parent / "assets"
ENGINE_GROUP = "engine"
"""The xdist group of engine tests that name no runtime."""
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


def engine_group(item: pytest.Item) -> str | None:
    """The xdist group of an engine test: the runtime it runs on; None for the others."""
    mark = item.get_closest_marker("engine")
    if mark is None:
        return None
    callspec = getattr(item, "callspec", None)
    runtime = callspec.params.get("runtime") if callspec is not None else None
    if runtime is None:
        runtime = mark.args[0] if mark.args else mark.kwargs.get("runtime")
    return f"{ENGINE_GROUP}-{runtime}" if isinstance(runtime, str) else ENGINE_GROUP


@pytest.hookimpl(tryfirst=True)  # before xdist reads the group marks (it renames the node ids)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        group = engine_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
