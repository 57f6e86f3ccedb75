"""Run receipts: built, checked against a recorded attestation, and every edit caught.

The attestations are the real bundles in tests/assets/bundles (default profile, PASS on
Docker and runc); the receipts are built as ``run`` builds them, with the sandbox rendered
by the same functions, so these tests need no engine (tests/test_run.py runs real ones)."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandproof import profile, receipt, receipt_check
from sandproof.capture import Captured
from sandproof.cli import main
from sandproof.inspector.wire import Verdict
from sandproof.render import oci
from sandproof.render import runc as runc_render
from sandproof.runtime.interface import Seccomp
from sandproof.workload import rendered

ASSETS = Path(__file__).parent / "assets" / "bundles"
DEFAULT = profile.load("default")
COMMAND = ["/usr/bin/python3.11", "-c", "print('hi')"]
OUTPUT = b'{"packets": 4}\n'
"""The one output file the receipts here record, as out/report.json (``write_outputs``)."""


def write_outputs(run_dir: Path) -> Path:
    """``run --out``'s out/ for the receipts ``make`` builds: beside the receipt in ``run_dir``."""
    (run_dir / "out").mkdir(parents=True)
    (run_dir / "out" / "report.json").write_bytes(OUTPUT)
    return run_dir / "out"


def _attestation(runtime: str) -> tuple[bytes, dict[str, Any]]:
    raw = (ASSETS / f"{runtime}-default-pass.json").read_bytes()
    return raw, json.loads(raw)


def _sandbox(runtime: str, image_id: str) -> dict[str, Any]:
    facts: dict[str, Any] = {"in_dir": "/tmp/w/in", "out_dir": "/tmp/w/out"}
    if runtime == "docker":
        argv = rendered.docker_argv(DEFAULT, image_id, COMMAND, seccomp_file="/tmp/w/sc.json", **facts)
        return {
            **facts,
            "argv": argv,
            "seccomp_file": "/tmp/w/sc.json",
            "container_id": None,
            "rootfs": None,
            "cwd": None,
            "oci_config": None,
            "oci_config_sha256": None,
        }
    cid = "sandproof-wl-0123456789ab"
    cfg = oci.redacted(
        rendered.oci_config(
            DEFAULT,
            COMMAND,
            container_id=cid,
            rootfs="/cache/rootfs/x",
            cwd="/app",
            seccomp_policy=Seccomp.render(DEFAULT).policy,
            **facts,
        )
    )
    return {
        **facts,
        "argv": runc_render.argv("/tmp/w/bundle", cid),
        "seccomp_file": None,
        "container_id": cid,
        "rootfs": "/cache/rootfs/x",
        "cwd": "/app",
        "oci_config": cfg,
        "oci_config_sha256": receipt.digest(cfg),
    }


def make(runtime: str, **over: Any) -> tuple[dict[str, Any], bytes]:
    raw, att = _attestation(runtime)
    image_id = att["image_digest"]
    named = receipt.Attested("evidence.json", hashlib.sha256(raw).hexdigest(), att["run_date"])
    args: dict[str, Any] = {
        "profile": DEFAULT,
        "image_ref": "inspector",
        "image_id": image_id,
        "seccomp_sha256": Seccomp.render(DEFAULT).sha256,
        "runtime": (runtime, att["runtime_version"]),
        "command": COMMAND,
        "sandbox": _sandbox(runtime, image_id),
        "started_at": f"{att['run_date']}T10:00:00.000000Z",
        "finished_at": f"{att['run_date']}T10:00:01.000000Z",
        "wall_s": 0.9,
        "exit_code": 1,
        "timed_out": False,
        "refused": False,
        "stdout": Captured(b"hi\n", b"", 3),
        "stderr": Captured(b"oops\n", b"", 5),
        "inputs": [{"path": "p.json", "type": "file", "bytes": 2, "sha256": "a" * 64}],
        "outputs": [
            {"path": "report.json", "type": "file", "bytes": len(OUTPUT), "sha256": hashlib.sha256(OUTPUT).hexdigest()}
        ],
        "output_limit": {"limit_bytes": 16 << 20, "limit_files": 1024, "bounded": True},
        "attestation": named,
        **over,
    }
    return receipt.build(**args), raw


def check(doc: dict[str, Any], raw: bytes) -> receipt_check.ReceiptReport:
    return receipt_check.verify_receipt(
        json.dumps(doc).encode(), "r.json", attestation=raw, attestation_source="e.json"
    )


def failing(report: receipt_check.ReceiptReport) -> set[str]:
    return {c.name for c in report.checks if c.verdict != Verdict.PASS}


@pytest.mark.parametrize("runtime", ["docker", "runc"])
def test_a_receipt_verifies_against_its_attestation(runtime: str) -> None:
    doc, raw = make(runtime)
    report = check(doc, raw)
    assert report.verdict == Verdict.PASS, [c for c in report.checks if c.verdict != Verdict.PASS]
    assert receipt.shape_problem(doc) is None
    assert receipt.is_receipt((json.dumps(doc, indent=2) + "\n").encode())


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path


def _edited(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1 if value < 255 else value - 1
    if isinstance(value, float):
        return value + 0.5
    if isinstance(value, str):
        return value[:-1] + ("0" if value[-1:] != "0" else "1") if value else "x"
    if value is None:
        return "x"
    return [*value, "x"]


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _get(doc: dict[str, Any], path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


FIELDS = {rt: sorted(_leaves(make(rt)[0]), key=str) for rt in ("docker", "runc")}


@pytest.mark.parametrize(("runtime", "path"), [(rt, p) for rt, ps in FIELDS.items() for p in ps], ids=str)
def test_any_edited_field_fails(runtime: str, path: tuple[Any, ...]) -> None:
    doc, raw = make(runtime)
    edited = copy.deepcopy(doc)
    _set(edited, path, _edited(_get(doc, path)))
    assert check(edited, raw).verdict == Verdict.FAIL


@pytest.mark.parametrize("runtime", ["docker", "runc"])
def test_a_removed_field_fails(runtime: str) -> None:
    doc, raw = make(runtime)
    for key in doc:
        edited = {k: v for k, v in doc.items() if k != key}
        assert failing(check(edited, raw)) == {"receipt-schema"}, key


# Edits an editor makes *and* re-digests: the digest no longer helps, the binding must.
REBOUND = [
    (("profile", "sha256"), "f" * 64, {"profile"}),
    (("image", "id"), "sha256:" + "e" * 64, {"same-image", "sandbox"}),
    (("seccomp_sha256",), "d" * 64, {"seccomp", "same-seccomp"}),
    (("runtime", "name"), "runc", {"sandbox", "same-runtime"}),
    (("attestation", "sha256"), "c" * 64, {"attestation-digest"}),
    (("started_at",), "2001-01-01T10:00:00.000000Z", {"dates"}),
    (("command", 2), "print('other')", {"sandbox"}),
    (("sandbox", "argv", 7), "host", {"sandbox"}),
    (("timed_out",), True, {"receipt-consistent"}),
    (("stdout", "tail"), "much more than three bytes", {"receipt-consistent"}),
]


@pytest.mark.parametrize(("path", "value", "caught"), REBOUND, ids=[str(p) for p, _, _ in REBOUND])
def test_a_redigested_edit_of_a_bound_field_fails(path: tuple[Any, ...], value: Any, caught: set[str]) -> None:
    doc, raw = make("docker")
    body = {k: v for k, v in copy.deepcopy(doc).items() if k != "receipt_sha256"}
    _set(body, path, value)
    edited = {**body, "receipt_sha256": receipt.digest(body)}
    assert caught <= failing(check(edited, raw))


def test_the_wrong_attestation_fails() -> None:
    doc, _ = make("docker")
    runc_raw, _ = _attestation("runc")
    assert {"attestation-digest", "same-runtime"} <= failing(check(doc, runc_raw))


def test_no_attestation_named_fails() -> None:
    doc, raw = make("docker", attestation=None)
    assert failing(check(doc, raw)) == {"attestation-digest"}


def test_a_receipt_of_a_weakened_attestation_fails() -> None:
    raw = (ASSETS / "docker-weak-host-network.json").read_bytes()
    doc, _ = make("docker")
    assert "attestation-verdict" in failing(check(doc, raw))


def test_outputs_beside_the_receipt_are_rehashed(tmp_path: Path) -> None:
    doc, raw = make(
        "docker",
        outputs=[{"path": "r.txt", "type": "file", "bytes": 2, "sha256": hashlib.sha256(b"ok").hexdigest()}],
    )
    (tmp_path / "r.txt").write_bytes(b"ok")
    good = receipt_check.verify_receipt(
        json.dumps(doc).encode(), "r", attestation=raw, attestation_source="e", outputs_dir=tmp_path
    )
    assert good.verdict == Verdict.PASS
    (tmp_path / "r.txt").write_bytes(b"no")
    bad = receipt_check.verify_receipt(
        json.dumps(doc).encode(), "r", attestation=raw, attestation_source="e", outputs_dir=tmp_path
    )
    assert failing(bad) == {"outputs"}


def test_the_schema_is_shipped_and_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "receipt-v1"]) == 0
    assert json.loads(capsys.readouterr().out)["properties"]["schema"]["const"] == receipt.SCHEMA


def test_verify_knows_a_receipt_and_asks_for_its_attestation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc, raw = make("runc")
    path = receipt.write(tmp_path, "receipt.json", doc)
    assert receipt.is_receipt(path.read_bytes())
    assert main(["verify", str(path)]) == 2
    assert "verify RECEIPT --attestation BUNDLE" in capsys.readouterr().err
    (tmp_path / "e.json").write_bytes(raw)
    assert main(["verify", str(path), "--attestation", str(tmp_path / "e.json"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "PASS"
    assert main(["verify", str(path), "--attestation", str(tmp_path / "e.json"), "--format", "junit"]) == 2
