"""Verifier input a forger controls: each is refused in one line (exit 2), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandproof.cli import main
from tests.conftest import asset_json

SENTINEL = "@@HERE@@"


def _with(raw_value: str, *path: str | int) -> bytes:
    b = asset_json("runc-default-pass.json")
    o: Any = b
    for p in path[:-1]:
        o = o[p]
    o[path[-1]] = SENTINEL
    return json.dumps(b).replace(json.dumps(SENTINEL), raw_value).encode()


@pytest.mark.parametrize(
    ("raw_value", "path"),
    [
        ('"\\udc80"', ("probes", 0, "expected")),  # once: UnicodeEncodeError in msgspec, an internal error
        ('"/run/x\\uDBFF"', ("probes", 0, "reason")),
        ('{"\\ud800": 1}', ("raw",)),
        ('["\\udfff"]', ("venue",)),
    ],
)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_lone_surrogate_is_refused_in_one_line(
    tmp_path: Path, raw_value: str, path: tuple[str | int, ...], fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "b.json"
    bundle.write_bytes(_with(raw_value, *path))
    assert main(["verify", "--format", fmt, str(bundle)]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1, err
    assert "internal error" not in err
    assert "lone surrogate" in err


def test_a_surrogate_pair_is_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An escaped pair is one character (U+1F642): read, then judged like any other change."""
    bundle = tmp_path / "b.json"
    bundle.write_bytes(_with('"\\ud83d\\ude42"', "venue"))
    assert main(["verify", str(bundle)]) == 1
    assert "lone surrogate" not in capsys.readouterr().err
