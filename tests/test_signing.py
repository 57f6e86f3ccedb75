"""Signed evidence: DSSE (securesystemslib) over an in-toto Statement v1, ed25519 keys."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.dsse import Envelope

from sandproof import profile, signing, verify
from sandproof.cli import main
from sandproof.inspector import judge
from tests.conftest import ASSETS

DEFAULT = profile.load("default")
EVIDENCE = ASSETS / "bundles" / "docker-default-pass.json"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    signing.keygen(tmp_path / "k.pem", tmp_path / "k.pub.pem")
    return tmp_path / "k.pem", tmp_path / "k.pub.pem"


def _signed(tmp_path: Path, keys: tuple[Path, Path]) -> Path:
    out = tmp_path / "ev.dsse.json"
    assert main(["sign", str(EVIDENCE), "--key", str(keys[0]), "--out", str(out)]) == 0
    return out


def _verify(path: Path, pub: Path) -> verify.Report:
    return verify.verify_file(path, DEFAULT, key=signing.public_key(pub))


def test_pae_matches_the_dsse_spec_vector() -> None:
    env = Envelope(payload=b"hello world", payload_type="http://example.com/HelloWorld", signatures={})
    assert env.pae() == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"


def test_sign_then_verify_round_trip(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    env = json.loads(_signed(tmp_path, keys).read_text())
    assert env["payloadType"] == "application/vnd.in-toto+json"
    body = json.loads(base64.b64decode(env["payload"]))
    assert body["_type"] == "https://in-toto.io/Statement/v1"
    assert [s["name"] for s in body["subject"]] == ["image", "seccomp", "profile:default", "inspector"]
    report = _verify(tmp_path / "ev.dsse.json", keys[1])
    assert report.verdict == judge.PASS
    assert report.checks[0].name == "signature"
    assert report.checks[0].verdict == judge.PASS


def _tamper(path: Path, field: str) -> None:
    env: dict[str, Any] = json.loads(path.read_text())
    raw = bytearray(base64.b64decode(env[field] if field == "payload" else env["signatures"][0]["sig"]))
    raw[len(raw) // 2] ^= 0x01
    if field == "payload":
        env["payload"] = base64.b64encode(bytes(raw)).decode()
    else:
        env["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()
    path.write_text(json.dumps(env))


@pytest.mark.parametrize("field", ["payload", "sig"])
def test_a_changed_byte_fails(tmp_path: Path, keys: tuple[Path, Path], field: str) -> None:
    path = _signed(tmp_path, keys)
    _tamper(path, field)
    report = _verify(path, keys[1])
    assert report.verdict == judge.FAIL
    assert report.checks[0].name == "signature"
    assert "does not verify" in report.checks[0].reason or "malformed" in report.checks[0].reason


def test_wrong_key_and_missing_signature_fail(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    path = _signed(tmp_path, keys)
    signing.keygen(tmp_path / "other.pem", tmp_path / "other.pub.pem")
    assert "does not verify" in _verify(path, tmp_path / "other.pub.pem").checks[0].reason
    env = json.loads(path.read_text())
    env["signatures"] = []
    path.write_text(json.dumps(env))
    assert _verify(path, keys[1]).verdict == judge.FAIL
    unsigned = _verify(EVIDENCE, keys[1])
    assert unsigned.verdict == judge.FAIL
    assert "not signed" in unsigned.checks[0].reason


def test_statement_subjects_must_be_the_evidence_digests(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    body = signing.statement(json.loads(EVIDENCE.read_text()))
    body["subject"][0]["digest"]["sha256"] = "0" * 64
    path = tmp_path / "lying.dsse.json"
    path.write_text(json.dumps(signing.sign_statement(body, signing.signer(keys[0]))))
    report = _verify(path, keys[1])
    assert report.verdict == judge.FAIL
    assert next(c for c in report.checks if c.name == "subjects").verdict == judge.FAIL


def test_cli_exit_codes_and_signed_vsa(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = _signed(tmp_path, keys)
    vsa = tmp_path / "vsa.dsse.json"
    assert main(["verify", "--key", str(keys[1]), str(path), "--vsa", str(vsa), "--vsa-key", str(keys[0])]) == 0
    body, _ = signing.open_envelope(json.loads(vsa.read_text()), signing.public_key(keys[1]))
    assert body is not None
    assert body["predicateType"] == "https://slsa.dev/verification_summary/v1"
    assert body["predicate"]["verificationResult"] == "PASSED"
    assert main(["verify", "--key", str(keys[1]), str(EVIDENCE)]) == 1
    assert main(["verify", "--key", str(tmp_path / "nope.pem"), str(path)]) == 2
    assert "not a readable PEM public key" in capsys.readouterr().err
    with pytest.raises(signing.SigningError, match="refusing to overwrite"):
        signing.keygen(keys[0], tmp_path / "x.pub.pem")
    assert (keys[0].stat().st_mode & 0o777) == 0o600
