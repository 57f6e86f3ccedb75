"""Venue identity as the seed fills it from the runner, and a detected venue elsewhere."""

from __future__ import annotations

import platform

import pytest

from sandproof import evidence


def test_github_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {
        "GITHUB_ACTIONS": "true",
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "GITHUB_RUN_ID": "7",
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_SERVER_URL": "https://github.com",
    }.items():
        monkeypatch.setenv(k, v)
    name, ident = evidence.venue()
    assert name == "ci"
    assert ident["invocation_id"] == "https://github.com/o/r/actions/runs/7"
    assert ident["not_mac_local"] is True
    assert ident["node"] == (platform.node() or None)  # the fleet view's per-node table


@pytest.mark.parametrize(
    ("system", "vendor", "want"),
    [
        ("Darwin", None, "mac-local"),
        ("Linux", "QEMU", "vps"),
        ("Linux", "Hetzner", "vps"),
        ("Linux", None, "local"),
    ],
)
def test_detected_venue(monkeypatch: pytest.MonkeyPatch, system: str, vendor: str | None, want: str) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setattr("platform.system", lambda: system)
    monkeypatch.setattr(evidence, "_dmi", lambda field: vendor if field == "sys_vendor" else None)
    name, ident = evidence.venue()
    assert name == want
    assert ident["not_mac_local"] is (system != "Darwin")
    assert ident["node"] == (platform.node() or None)
