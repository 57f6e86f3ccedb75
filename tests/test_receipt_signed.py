"""Signed run receipts: ``sandproof sign RECEIPT`` wraps a receipt in a DSSE envelope whose
in-toto subjects are the run's output files and image; ``verify RECEIPT.dsse.json
--attestation BUNDLE --key PUB`` opens it first. Without a signature, ``receipt_sha256`` is only
an integrity check (whoever edits the receipt recomputes it); a signed receipt's exit code,
tails and timings are vouched for by the key."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from sandproof import receipt, receipt_check, signing
from sandproof.cli import main
from sandproof.inspector.wire import Verdict
from tests.test_receipt import OUTPUT, _attestation, check, failing, make, write_outputs


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, Path]:
    signing.keygen(tmp_path / "k.pem", tmp_path / "k.pub.pem")
    return tmp_path / "k.pem", tmp_path / "k.pub.pem"


def _signed_run(tmp_path: Path, key: tuple[Path, Path]) -> tuple[dict[str, Any], Path, Path]:
    """A receipt relying on a signed attestation, as ``run --require-attested e.dsse.json`` makes
    it; both files signed with ``key`` by the CLI."""
    raw, att = _attestation("docker")
    (tmp_path / "e.json").write_bytes(raw)
    assert main(["sign", str(tmp_path / "e.json"), "--key", str(key[0])]) == 0
    envelope = tmp_path / "e.dsse.json"
    named = receipt.Attested(envelope.name, hashlib.sha256(envelope.read_bytes()).hexdigest(), att["run_date"])
    doc, _ = make("docker", attestation=named)
    receipt.write(tmp_path, "receipt.json", doc)
    write_outputs(tmp_path)
    return doc, tmp_path / "receipt.json", envelope


def _verify(path: Path, attestation: Path, pub: Path | None) -> receipt_check.ReceiptReport:
    return receipt_check.verify_receipt(
        path.read_bytes(),
        str(path),
        attestation=attestation.read_bytes(),
        attestation_source=str(attestation),
        key=None if pub is None else signing.public_key(pub),
    )


def test_a_signed_receipt_verifies_with_its_key(
    tmp_path: Path, key: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    doc, path, envelope = _signed_run(tmp_path, key)
    capsys.readouterr()
    assert main(["sign", str(path), "--key", str(key[0])]) == 0
    signed = Path(capsys.readouterr().out.strip())
    assert signed == tmp_path / "receipt.dsse.json"
    body = json.loads(base64.b64decode(json.loads(signed.read_bytes())["payload"]))
    assert body["predicateType"] == signing.RECEIPT_TYPE
    assert body["predicate"] == doc
    assert body["subject"] == [
        {"name": "image", "digest": {"sha256": doc["image"]["id"].removeprefix("sha256:")}},
        {"name": "out/report.json", "digest": {"sha256": hashlib.sha256(OUTPUT).hexdigest()}},
    ]
    report = _verify(signed, envelope, key[1])
    assert report.verdict == Verdict.PASS, failing(report)
    assert [c.name for c in report.checks][:2] == ["receipt-signature", "receipt-subjects"]
    argv = ["verify", str(signed), "--attestation", str(envelope), "--key", str(key[1]), "--format", "json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "PASS"


def test_with_a_key_the_receipt_must_be_signed_by_it(tmp_path: Path, key: tuple[Path, Path]) -> None:
    _, path, envelope = _signed_run(tmp_path, key)
    unsigned = _verify(path, envelope, key[1])  # an editor recomputes receipt_sha256; a key tells
    assert [(c.name, c.verdict) for c in unsigned.checks] == [("receipt-signature", Verdict.FAIL)]
    assert "DSSE envelope is required" in unsigned.checks[0].reason
    assert main(["sign", str(path), "--key", str(key[0])]) == 0
    signing.keygen(tmp_path / "other.pem", tmp_path / "other.pub.pem")
    other = _verify(tmp_path / "receipt.dsse.json", envelope, tmp_path / "other.pub.pem")
    assert failing(other) == {"receipt-signature"}
    unchecked = _verify(tmp_path / "receipt.dsse.json", envelope, None)  # no key: not checked, no PASS
    assert unchecked.checks[0].verdict == Verdict.UNVERIFIED
    assert unchecked.verdict == Verdict.FAIL


def test_a_signed_receipt_edited_fails_its_signature(tmp_path: Path, key: tuple[Path, Path]) -> None:
    _, path, envelope = _signed_run(tmp_path, key)
    assert main(["sign", str(path), "--key", str(key[0])]) == 0
    signed = tmp_path / "receipt.dsse.json"
    outer = json.loads(signed.read_bytes())
    body = json.loads(base64.b64decode(outer["payload"]))
    body["predicate"]["exit_code"] = 0  # the editor's favourite, re-digested as it would be
    edited = {k: v for k, v in body["predicate"].items() if k != "receipt_sha256"}
    body["predicate"]["receipt_sha256"] = receipt.digest(edited)
    outer["payload"] = base64.b64encode(json.dumps(body).encode()).decode()
    signed.write_text(json.dumps(outer))
    assert failing(_verify(signed, envelope, key[1])) == {"receipt-signature"}


def test_subjects_other_than_the_receipts_own_fail(tmp_path: Path, key: tuple[Path, Path]) -> None:
    doc, _, envelope = _signed_run(tmp_path, key)
    body = signing.receipt_statement(doc)
    body["subject"][1]["digest"]["sha256"] = "c" * 64  # an artifact the run never made
    (tmp_path / "forged.dsse.json").write_text(json.dumps(signing.sign_statement(body, signing.signer(key[0]))))
    assert failing(_verify(tmp_path / "forged.dsse.json", envelope, key[1])) == {"receipt-subjects"}


def test_signed_evidence_is_no_receipt(tmp_path: Path, key: tuple[Path, Path]) -> None:
    _, _, envelope = _signed_run(tmp_path, key)
    report = _verify(envelope, envelope, key[1])
    assert [(c.name, c.verdict) for c in report.checks] == [("receipt-signature", Verdict.FAIL)]
    assert "of a run receipt" in report.checks[0].reason


def test_an_edited_receipt_is_not_signed(
    tmp_path: Path, key: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    doc, path, _ = _signed_run(tmp_path, key)
    path.write_text(json.dumps({**doc, "exit_code": 0}, indent=2))  # schema first, digest now wrong
    capsys.readouterr()
    assert main(["sign", str(path), "--key", str(key[0])]) == 2
    err = capsys.readouterr().err
    assert "it was edited" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "receipt.dsse.json").exists()


def test_a_signed_receipt_verified_as_evidence_says_what_to_do(
    tmp_path: Path, key: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, path, _ = _signed_run(tmp_path, key)
    assert main(["sign", str(path), "--key", str(key[0])]) == 0
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "receipt.dsse.json")]) == 2
    err = capsys.readouterr().err
    assert "a signed run receipt, not evidence: verify RECEIPT --attestation BUNDLE" in err
    assert len(err.strip().splitlines()) == 1
    pub = str(tmp_path / "k.pub.pem")
    assert main(["verify", str(tmp_path / "receipt.dsse.json"), "--key", pub, "--format", "json"]) == 1
    assert "a signed run receipt, not evidence" in capsys.readouterr().out


def test_sign_checks_the_outputs_it_names_first(
    tmp_path: Path, key: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 16: a receipt whose digest an editor recomputed was signed with subjects no run
    made. sign re-hashes out/ beside the receipt first; a changed or missing tree is one line."""
    _, path, _ = _signed_run(tmp_path, key)
    (tmp_path / "out" / "report.json").write_bytes(b"forged\n")
    capsys.readouterr()
    assert main(["sign", str(path), "--key", str(key[0])]) == 2
    err = capsys.readouterr().err
    assert "differs from the receipt at report.json" in err
    assert len(err.strip().splitlines()) == 1
    shutil.rmtree(tmp_path / "out")
    assert main(["sign", str(path), "--key", str(key[0])]) == 2
    assert "no out/ beside it" in capsys.readouterr().err
    assert not (tmp_path / "receipt.dsse.json").exists()


@pytest.mark.parametrize("name", ["../../../usr/local/bin/tool", "/etc/passwd", "a/../../b", "a//b", "./a", "a/"])
def test_an_output_path_outside_out_is_no_receipt(name: str) -> None:
    doc, raw = make("docker", outputs=[{"path": name, "type": "file", "bytes": 1, "sha256": "c" * 64}])
    assert failing(check(doc, raw)) == {"receipt-schema"}


def test_verify_json_says_when_no_output_was_rehashed(
    tmp_path: Path, key: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, path, envelope = _signed_run(tmp_path, key)
    argv = ["verify", str(path), "--attestation", str(envelope), "--key", str(key[1]), "--format", "json"]
    assert main(["sign", str(path), "--key", str(key[0])]) == 0
    argv[1] = str(tmp_path / "receipt.dsse.json")
    capsys.readouterr()
    assert main(argv) == 0
    assert "note" not in json.loads(capsys.readouterr().out)
    shutil.rmtree(tmp_path / "out")
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["note"] == "no out/ beside the receipt; output files not re-hashed"


def test_a_receipt_saved_compact_is_signed_as_a_receipt(tmp_path: Path, key: tuple[Path, Path]) -> None:
    """sign told a receipt by its first bytes, verify by its schema: one re-saved compact passed
    verify and was refused by sign as "not evidence" (the final read of the change)."""
    doc, path, _ = _signed_run(tmp_path, key)
    path.write_text(json.dumps(doc, separators=(",", ":"), sort_keys=True))
    assert main(["sign", str(path), "--key", str(key[0])]) == 0
    body = json.loads(base64.b64decode(json.loads((tmp_path / "receipt.dsse.json").read_bytes())["payload"]))
    assert body["predicateType"] == signing.RECEIPT_TYPE
