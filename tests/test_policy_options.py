"""One policy wherever evidence is judged (review 11, findings 2, 6 and 10).

``verify RECEIPT --attestation B`` judges B exactly as ``verify B`` does with the same options;
``run --require-attested B`` takes the same options (``--key`` for a signed B) and refuses before
any engine is touched; a VSA records the signature and the policy it was made under, and only
signed evidence gets one; a DSSE envelope carries nothing beside DSSE's fields; ``verify DIR``
judges attest's --out after ``sign`` once per run. The recorded bundles need no engine; the one
engine test runs the whole loop with a signed attestation."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from sandproof import attest, image, profile, receipt, receipt_check, signing, verify
from sandproof.cli import main
from sandproof.errors import Error
from sandproof.inspector.wire import Verdict
from sandproof.workload import images
from tests.test_receipt import make, write_outputs

BUNDLES = Path(__file__).parent / "assets" / "bundles"
DEFAULT = profile.load("default")
EVIDENCE = BUNDLES / "docker-default-pass.json"
NAME = "sandbox-attestation-evidence-local-2026-11-29"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    signing.keygen(tmp_path / "k.pem", tmp_path / "k.pub.pem")
    return tmp_path / "k.pem", tmp_path / "k.pub.pem"


def _sign(src: Path, key: Path, out: Path) -> Path:
    assert main(["sign", str(src), "--key", str(key), "--out", str(out)]) == 0
    return out


def _without_engine_view(tmp_path: Path) -> Path:
    """The recorded PASS bundle as one from before the engine view: PASS, but not under
    --require-engine-view."""
    doc = json.loads(EVIDENCE.read_bytes())
    del doc["engine_view"]
    path = tmp_path / "noview.json"
    path.write_text(json.dumps(doc))
    return path


def _receipt_for(tmp_path: Path, attestation: Path) -> Path:
    """A receipt of a docker run that names ``attestation`` (built as ``run`` builds it)."""
    raw = attestation.read_bytes()
    named = receipt.Attested(
        attestation.name, hashlib.sha256(raw).hexdigest(), json.loads(EVIDENCE.read_bytes())["run_date"]
    )
    doc, _ = make("docker", attestation=named)
    path = receipt.write(tmp_path / f"r-{attestation.stem}", "receipt.json", doc)
    write_outputs(path.parent)
    return path


def _options(keys: tuple[Path, Path], tmp_path: Path) -> dict[str, list[str]]:
    signing.keygen(tmp_path / "other.pem", tmp_path / "other.pub.pem")
    return {
        "none": [],
        "key": ["--key", str(keys[1])],
        "other-key": ["--key", str(tmp_path / "other.pub.pem")],
        "venue-ci": ["--require-venue", "ci"],
        "venue-vps": ["--require-venue", "vps"],
        "venue-any": ["--require-venue", "any"],
        "engine-view": ["--require-engine-view"],
        "profile": ["--profile", "default"],
        "matrix": ["--matrix", "b4-prime-rev4"],
        "key+venue+view": ["--key", str(keys[1]), "--require-venue", "ci", "--require-engine-view"],
    }


def test_a_receipt_judges_its_attestation_as_verify_does(
    tmp_path: Path, keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 11 finding 2: the receipt path judged with the default policy and no key (PASS
    with --key on an unsigned bundle, with --require-venue ci on a local one)."""
    # --profile also requires the inspector this sandproof ships: another one here, so the
    # option changes the verdict and its reaching the attestation's judgement shows
    monkeypatch.setattr(verify, "_shipped_inspector", lambda: "0" * 64)
    signed = _sign(EVIDENCE, keys[0], tmp_path / f"{NAME}.dsse.json")
    attestations = [EVIDENCE, signed, _without_engine_view(tmp_path)]
    outcomes: dict[tuple[str, str], int] = {}
    options = _options(keys, tmp_path)
    for att in attestations:
        rec = _receipt_for(tmp_path, att)
        # with --key the receipt must be signed by it too (tests/test_receipt_signed.py): signed
        # with the right key, only the attestation's judgement can differ
        signed_rec = _sign(rec, keys[0], rec.with_name("receipt.dsse.json"))
        for name, opts in options.items():
            alone = main(["verify", str(att), *opts])
            via = main(["verify", str(signed_rec if "--key" in opts else rec), "--attestation", str(att), *opts])
            capsys.readouterr()
            assert via == alone, (att.name, name)
            outcomes[att.name, name] = via
    # the cases the review found, and that each option but --matrix changes a verdict here (both
    # shipped matrices bind every probe of these bundles: for it only the agreement is shown)
    assert outcomes[EVIDENCE.name, "none"] == 0
    assert outcomes[EVIDENCE.name, "key"] == 1
    assert outcomes[EVIDENCE.name, "venue-ci"] == 1
    assert outcomes[EVIDENCE.name, "venue-vps"] == 1
    assert outcomes[EVIDENCE.name, "venue-any"] == 0  # the default, given: a local bundle passes
    assert outcomes[EVIDENCE.name, "profile"] == 1  # not the shipped inspector (patched above)
    assert outcomes[EVIDENCE.name, "key+venue+view"] == 1
    assert outcomes[signed.name, "key"] == 0
    assert outcomes[signed.name, "none"] == 1  # the signature cannot be checked: as verify says
    assert outcomes[signed.name, "other-key"] == 1
    assert outcomes["noview.json", "none"] == 0
    assert outcomes["noview.json", "engine-view"] == 1
    assert outcomes["noview.json", "venue-any"] == 0


def test_the_reviews_command_fails(tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """The review's command (--key, --require-venue ci, --require-engine-view on a local, unsigned
    attestation) FAILs the attestation for its missing signature; signed, it FAILs for the venue
    alone, and the engine view it carries passes: each option is honoured, not only --key."""
    rec = _sign(_receipt_for(tmp_path, EVIDENCE), keys[0], tmp_path / "receipt.dsse.json")
    capsys.readouterr()
    policy = ["--key", str(keys[1]), "--require-venue", "ci"]
    assert main(["verify", str(rec), "--attestation", str(EVIDENCE), *policy, "--require-engine-view"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith(": FAIL")
    assert "PASS  receipt-signature" in out
    assert "FAIL  attestation-verdict" in out
    assert "not signed" in out
    signed = _sign(EVIDENCE, keys[0], tmp_path / f"{NAME}.dsse.json")
    rec = _sign(_receipt_for(tmp_path, signed), keys[0], tmp_path / "receipt-of-signed.dsse.json")
    capsys.readouterr()
    argv = ["verify", str(rec), "--attestation", str(signed), *policy]
    assert main([*argv, "--require-engine-view"]) == 1
    verdict = next(line for line in capsys.readouterr().out.splitlines() if "attestation-verdict" in line)
    assert verdict.lstrip().startswith("FAIL")
    assert "(failing: venue)" in verdict
    assert main(["verify", str(rec), "--attestation", str(signed), "--key", str(keys[1]), "--require-engine-view"]) == 0


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--vsa", "v.json", "--vsa-key", "k.pem"], "--vsa"),
        (["--vsa-key", "k.pem"], "--vsa"),
        (["--image", "busybox"], "--image"),
        (["--matrix", "no-such-matrix.toml"], "no-such-matrix"),
        (["--key", "no-such-key.pub.pem"], "no-such-key"),
        (["--format", "sarif"], "sarif"),
    ],
)
def test_an_option_that_cannot_apply_to_a_receipt_is_an_error(
    tmp_path: Path, extra: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = _receipt_for(tmp_path, EVIDENCE)
    assert main(["verify", str(rec), "--attestation", str(EVIDENCE), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert said in err[0]


# ---- run --require-attested: the same options, judged before any engine is touched ----


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``run`` does once the attestation is judged: reaching it says the judgement passed."""

    def reached(*_: object, **__: object) -> None:
        raise Error("engine reached")

    monkeypatch.setattr(image, "build", reached)
    monkeypatch.setattr(images, "resolve", reached)
    monkeypatch.setattr(attest, "select_runtime", reached)


def _run(tmp_path: Path, *extra: str) -> list[str]:
    return ["run", "--image", "inspector", "--out", str(tmp_path / "ran"), *extra, "--", "true"]


@pytest.mark.usefixtures("no_engine")
def test_run_takes_a_signed_attestation_with_its_key(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    signed = _sign(EVIDENCE, keys[0], tmp_path / f"{NAME}.dsse.json")
    assert main(_run(tmp_path, "--require-attested", str(signed), "--key", str(keys[1]))) == 2
    assert "engine reached" in capsys.readouterr().err  # judged PASS: on to the image


@pytest.mark.usefixtures("no_engine")
def test_run_refuses_before_the_engine(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    signed = _sign(EVIDENCE, keys[0], tmp_path / f"{NAME}.dsse.json")
    signing.keygen(tmp_path / "other.pem", tmp_path / "other.pub.pem")
    other = str(tmp_path / "other.pub.pem")
    cases = {
        "not signed": ["--require-attested", str(EVIDENCE), "--key", str(keys[1])],
        "does not verify with key": ["--require-attested", str(signed), "--key", other],
        "no --key given": ["--require-attested", str(signed)],
        "venue": ["--require-attested", str(EVIDENCE), "--require-venue", "ci"],
        "engine-view": ["--require-attested", str(_without_engine_view(tmp_path)), "--require-engine-view"],
        "--key: judges the --require-attested bundle": ["--key", str(keys[1])],
        "--require-venue: judges": ["--require-venue", "ci"],
        "--matrix: judges": ["--matrix", "sandproof"],
    }
    for said, extra in cases.items():
        assert main(_run(tmp_path, *extra)) == 2, said
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, (said, err)
        assert said in err[0], (said, err)
        assert "engine reached" not in err[0]
        assert not (tmp_path / "ran").exists()
    # an unsigned bundle without --key: the gate as before (judged PASS, on to the image)
    assert main(_run(tmp_path, "--require-attested", str(EVIDENCE))) == 2
    assert "engine reached" in capsys.readouterr().err


@pytest.mark.usefixtures("no_engine")
def test_the_run_gate_requires_the_inspector_this_sandproof_ships(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As ``verify --profile`` does (review 12): with ``--image REF`` the image ID is the user's,
    which does not hold the carried harness, so only this check binds the harness that ran."""
    monkeypatch.setattr(verify, "_shipped_inspector", lambda: "0" * 64)  # another sandproof's inspector
    assert main(_run(tmp_path, "--require-attested", str(EVIDENCE))) == 2
    err = capsys.readouterr().err
    assert "refused to start" in err
    assert "inspector-shipped" in err
    assert "engine reached" not in err


def test_a_signed_attestation_binds_its_payloads_facts(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    """The image, profile, seccomp and runtime a signed attestation covers are its payload's."""
    signed = _sign(EVIDENCE, keys[0], tmp_path / f"{NAME}.dsse.json")
    doc = json.loads(EVIDENCE.read_bytes())
    checks, named = receipt_check.attestation_checks(
        signed.read_bytes(),
        str(signed),
        DEFAULT,
        image_id=doc["image_digest"],
        seccomp_sha256=doc["seccomp_sha256"],
        runtime="docker",
        ran_on=doc["run_date"],
        key=signing.public_key(keys[1]),
    )
    assert [c.name for c in checks if c.verdict != Verdict.PASS] == []
    assert named is not None
    assert named.sha256 == hashlib.sha256(signed.read_bytes()).hexdigest()


# ---- the VSA says what was checked ----


def _vsa(path: Path, pub: Path) -> dict[str, Any]:
    body, why = signing.open_envelope(json.loads(path.read_text()), signing.public_key(pub))
    assert body is not None, why
    predicate: dict[str, Any] = body["predicate"]
    return predicate


def test_the_vsa_records_the_signature_and_the_policy(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    signed = _sign(EVIDENCE, keys[0], tmp_path / f"{NAME}.dsse.json")
    vsa = tmp_path / "vsa.dsse.json"
    common = ["verify", str(signed), "--key", str(keys[1]), "--vsa", str(vsa), "--vsa-key", str(keys[0])]
    assert main([*common, "--require-engine-view"]) == 0
    got = _vsa(vsa, keys[1])
    keyid = signing.public_key(keys[1]).keyid
    assert got["verificationResult"] == "PASSED"
    assert got["inputAttestations"][0]["annotations"] == {"signature": "verified", "keyid": keyid}
    assert got["inputAttestations"][0]["digest"]["sha256"] == hashlib.sha256(signed.read_bytes()).hexdigest()
    assert got["policy"]["annotations"] == {
        "matrix": "sandproof",
        "require_venue": "any",
        "require_engine_view": True,
        "check_inspector": False,
    }
    assert got["verifiedLevels"] == ["SANDPROOF_SANDBOX_VERIFIED", "SANDPROOF_EVIDENCE_SIGNED", "SANDPROOF_ENGINE_VIEW"]
    # under a policy the evidence does not meet: FAILED, and the spec's "FAILED" level
    assert main([*common, "--require-venue", "ci"]) == 1
    got = _vsa(vsa, keys[1])
    assert (got["verificationResult"], got["verifiedLevels"]) == ("FAILED", ["FAILED"])
    assert got["policy"]["annotations"]["require_venue"] == "ci"
    capsys.readouterr()
    # signed by another key: the summary says the signature failed, never "verified"
    signing.keygen(tmp_path / "other.pem", tmp_path / "other.pub.pem")
    other = ["--key", str(tmp_path / "other.pub.pem")]
    assert main(["verify", str(signed), *other, "--vsa", str(vsa), "--vsa-key", str(keys[0])]) == 1
    got = _vsa(vsa, keys[1])
    assert got["inputAttestations"][0]["annotations"]["signature"] == "failed"
    assert got["verificationResult"] == "FAILED"


def test_no_vsa_for_evidence_whose_signature_was_not_checked(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 11 finding 6: a signed PASSED summary over an unsigned bundle. Refused: a VSA
    stands in for the evidence, and an unsigned bundle is a file anyone can write."""
    vsa = tmp_path / "vsa.dsse.json"
    assert main(["verify", str(EVIDENCE), "--vsa", str(vsa), "--vsa-key", str(keys[0])]) == 2
    assert "--key" in capsys.readouterr().err
    assert not vsa.exists()
    # with --key the unsigned bundle is judged, and FAILs: a FAILED summary, never PASSED
    assert main(["verify", str(EVIDENCE), "--key", str(keys[1]), "--vsa", str(vsa), "--vsa-key", str(keys[0])]) == 1
    assert _vsa(vsa, keys[1])["verificationResult"] == "FAILED"


def test_a_bad_vsa_key_is_said_before_anything_is_judged(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The --vsa-key was read only once the report was printed: a bad key left a PASS on stdout
    and exit 2. Now one line naming --vsa-key, exit 2, nothing printed or written."""
    signed = _sign(EVIDENCE, keys[0], tmp_path / f"{NAME}.dsse.json")
    (tmp_path / "garbage.pem").write_text("not a key\n")
    vsa = tmp_path / "vsa.dsse.json"
    capsys.readouterr()
    for bad, said in [
        (keys[1], "a public key"),
        (tmp_path / "garbage.pem", "not a readable unencrypted PEM private key"),
        (tmp_path / "missing.pem", "cannot read"),
    ]:
        argv = ["verify", str(signed), "--key", str(keys[1]), "--vsa", str(vsa), "--vsa-key", str(bad)]
        assert main(argv) == 2, said
        got = capsys.readouterr()
        assert got.out == "", said
        err = got.err.strip().splitlines()
        assert len(err) == 1, (said, err)
        assert f"--vsa-key {bad}: " in err[0], (said, err)
        assert said in err[0], (said, err)
        assert not vsa.exists()


# ---- envelopes: DSSE's fields only; attest's --out after sign judged once per run ----


def test_an_envelope_with_fields_beside_dsses_is_refused(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    """Review 11 finding 10: a polyglot envelope carrying an unsigned copy of the bundle (a
    reader that takes it for a bundle sees facts no signature covers) verified PASS."""
    signed = _sign(EVIDENCE, keys[0], tmp_path / f"{NAME}.dsse.json")
    env = json.loads(signed.read_bytes())
    poly = tmp_path / "poly.dsse.json"
    poly.write_text(json.dumps({**json.loads(EVIDENCE.read_bytes()), **env}))
    assert main(["verify", str(signed), "--key", str(keys[1])]) == 0
    assert main(["verify", str(poly), "--key", str(keys[1])]) == 1
    body, why = signing.open_envelope(json.loads(poly.read_bytes()), signing.public_key(keys[1]))
    assert body is None
    assert "fields other than payload, payloadType and signatures" in why


def _attest_dir(tmp_path: Path, keys: tuple[Path, Path]) -> Path:
    out = tmp_path / "att"
    out.mkdir()
    bare = out / f"{NAME}.json"
    bare.write_bytes(EVIDENCE.read_bytes())
    _sign(bare, keys[0], out / f"{NAME}.dsse.json")
    return out


def test_verify_dir_after_sign_judges_each_run_once(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 11 finding 10: ``verify DIR --key`` FAILed on attest's own --out after sign (the
    bare evidence judged beside its signed twin, and refused as unsigned)."""
    out = _attest_dir(tmp_path, keys)
    capsys.readouterr()
    assert main(["verify", str(out), "--key", str(keys[1]), "--format", "json"]) == 0
    got = capsys.readouterr()
    assert json.loads(got.out)["source"].endswith(".dsse.json")  # one report: the signed twin's
    assert main(["verify", str(out), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["source"].endswith(f"{NAME}.json")
    # a second run's unsigned evidence in the same directory is still judged, and FAILs --key
    (out / "sandbox-attestation-evidence-other.json").write_bytes((BUNDLES / "runc-default-pass.json").read_bytes())
    assert main(["verify", str(out), "--key", str(keys[1])]) == 1
    assert "not signed" in capsys.readouterr().out


def test_a_twin_that_is_not_the_same_evidence_is_judged_on_its_own(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = _attest_dir(tmp_path, keys)
    doc = json.loads(EVIDENCE.read_bytes())
    doc["venue"] = "ci"  # the bare file says more than the signed payload
    (out / f"{NAME}.json").write_text(json.dumps(doc))
    assert main(["verify", str(out), "--key", str(keys[1])]) == 1
    assert "not signed" in capsys.readouterr().out
    # and a twin whose signature fails still fails the directory
    env = json.loads((out / f"{NAME}.dsse.json").read_bytes())
    payload = json.loads(base64.b64decode(env["payload"]))
    (out / f"{NAME}.json").write_text(json.dumps(payload["predicate"]))  # exactly the payload's evidence...
    env["signatures"][0]["sig"] = base64.b64encode(b"\0" * 64).decode()  # ...but the signature is broken
    (out / f"{NAME}.dsse.json").write_text(json.dumps(env))
    assert main(["verify", str(out), "--key", str(keys[1])]) == 1
    assert "does not verify" in capsys.readouterr().out


def test_a_twin_equal_only_as_python_values_is_judged_on_its_own(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 12: the pairing compared parsed payloads with ``==``, where 1 == True: a signed
    twin saying ``"complete": 1`` (a FAIL on its own) was dropped as the bare PASS's twin."""
    doc = json.loads(EVIDENCE.read_bytes())
    next(r for r in doc["probes"] if r["probe_id"] == "PR-SUID-1")["observation"]["complete"] = 1
    (tmp_path / "other.json").write_text(json.dumps(doc))
    out = tmp_path / "att"
    out.mkdir()
    (out / f"{NAME}.json").write_bytes(EVIDENCE.read_bytes())
    _sign(tmp_path / "other.json", keys[0], out / f"{NAME}.dsse.json")
    capsys.readouterr()
    assert main(["verify", str(out)]) == 1  # the twin is judged too: unchecked signature, and its own FAIL
    assert "same evidence" not in capsys.readouterr().err


# ---- the whole loop on a real engine, with a signed attestation ----


@pytest.mark.engine("docker")
def test_attest_sign_run_verify_loop_with_a_key(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    att = attest.attest(DEFAULT, runtime="docker", out=tmp_path / "att", run_date=today)
    assert att.report.verdict == Verdict.PASS
    signed = _sign(att.evidence_path, keys[0], att.evidence_path.with_suffix(".dsse.json"))
    out = tmp_path / "o"
    argv = ["run", "--image", "inspector", "--require-attested", str(signed), "--out", str(out)]
    cmd = ["--entrypoint", "/usr/bin/python3.11", "--", "-c", "print('ok')"]
    assert main([*argv, *cmd]) == 2  # signed, and no key to check it
    assert not out.exists()
    assert main([*argv, "--key", str(keys[1]), *cmd]) == 0
    doc = json.loads((out / "receipt.json").read_bytes())
    assert doc["attestation"]["sha256"] == hashlib.sha256(signed.read_bytes()).hexdigest()
    rec = str(out / "receipt.json")
    assert main(["verify", rec, "--attestation", str(signed), "--key", str(keys[1])]) == 1  # the receipt unsigned
    signed_rec = str(_sign(out / "receipt.json", keys[0], out / "receipt.dsse.json"))
    assert main(["verify", signed_rec, "--attestation", str(signed), "--key", str(keys[1])]) == 0
    assert main(["verify", rec, "--attestation", str(signed)]) == 1
    assert main(["verify", str(tmp_path / "att"), "--key", str(keys[1])]) == 0


def test_the_twin_note_shows_file_names_escaped(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A file name is anyone's text: the note on stderr printed it raw (an ESC reached the
    terminal); every other line of verify DIR escapes it."""
    out = tmp_path / "att"
    out.mkdir()
    name = f"{NAME}-\x1b[31m"  # found by its evidence name, a terminal escape after it
    bare = out / f"{name}.json"
    bare.write_bytes(EVIDENCE.read_bytes())
    _sign(bare, keys[0], out / f"{name}.dsse.json")
    capsys.readouterr()
    assert main(["verify", str(out)]) in (0, 1)  # judged (named for no node it holds: may FAIL)
    err = capsys.readouterr().err
    assert "is the same evidence as" in err
    assert "\x1b" not in err
