"""The read-only verifier's import boundary (issue 10): verifying a bundle, as a library call
and as `sandproof verify`, loads no runtime, no image builder, no ctypes and none of the
inspector's probing modules. Checked in a fresh interpreter, after a real verification."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ASSETS

SCRIPT = """
import contextlib, io, json, sys
from sandproof import profile, verify
from sandproof.cli import main
bundle = sys.argv[1]
assert verify.verify_file(bundle, profile.load("default")).verdict == "PASS"
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["verify", bundle]) == 0
print(json.dumps(sorted(sys.modules)))
"""
PROBING = ("probes", "probes_system", "guard", "rawsys", "sweep", "isolate")


@pytest.fixture(scope="module")
def loaded() -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ASSETS / "bundles" / "docker-default-pass.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout)
    assert isinstance(modules, list)
    return [str(m) for m in modules]


def test_no_runtime_and_no_image_builder(loaded: list[str]) -> None:
    assert "sandproof.verify" in loaded
    assert [m for m in loaded if m == "sandproof.runtime" or m.startswith("sandproof.runtime.")] == []
    assert "sandproof.image" not in loaded  # what the image is comes from imagespec, without the builder
    assert "sandproof.dynimport" not in loaded  # only with --profile (the shipped inspector's hash)


def test_no_ctypes_and_no_probing_module(loaded: list[str]) -> None:
    assert "ctypes" not in loaded
    assert [m for m in loaded if m.startswith("sandproof.inspector.") and m.rsplit(".", 1)[1] in PROBING] == []


def test_an_unsigned_bundle_loads_no_signing_code(loaded: list[str]) -> None:
    """securesystemslib and cryptography took ~50 ms of every `sandproof verify`: they are
    loaded for an envelope, a --key or a --vsa only."""
    assert "sandproof.signing" not in loaded
    assert [m for m in loaded if m.split(".")[0] in ("securesystemslib", "cryptography")] == []


def test_the_verifier_and_its_reports_take_no_any() -> None:
    """Issue 10: what verify, provenance and the reports read is typed (the model's Structs,
    TypedDicts, ``object`` where a value is not yet known): no ``typing.Any`` is imported there."""
    src = Path(__file__).resolve().parents[1] / "src" / "sandproof"
    files = [src / "verify.py", src / "provenance.py", *sorted((src / "report").glob("*.py"))]
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "typing":
                found += [f"{path.name}: {a.name}" for a in node.names if a.name == "Any"]
            if isinstance(node, ast.Attribute) and node.attr == "Any":
                found.append(f"{path.name}: typing.Any")
    assert len(files) > 3
    assert found == []
