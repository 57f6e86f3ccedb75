"""Signed evidence: the evidence bundle (or a run receipt) as an in-toto Statement v1 in a
DSSE envelope, signed offline with ed25519. DSSE and keys come from securesystemslib (its signers use
pyca/cryptography); nothing cryptographic is written here."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

from sandproof import __version__, bundle, safedir
from sandproof.errors import BundleError, Error
from sandproof.inspector.wire import Verdict
from sandproof.receipt import OUTPUT_DIR

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://sandproof.invalid/predicates/sandbox-evidence/v1"
VSA_TYPE = "https://slsa.dev/verification_summary/v1"
RECEIPT_TYPE = "https://sandproof.invalid/predicates/run-receipt/v1"
EVIDENCE_TYPES = (PREDICATE_TYPE, VSA_TYPE)
"""What ``verify BUNDLE`` opens; a signed receipt is opened only as a receipt (``RECEIPT_TYPE``)."""


class SigningError(Error):
    """A key or an envelope cannot be read or used."""


def _hex(value: object) -> str | None:
    text = str(value or "").removeprefix("sha256:")
    return text if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else None


def statement(evidence: Mapping[str, Any]) -> dict[str, Any]:
    """Subjects: the image, the seccomp profile, the sandbox profile and the inspector, by sha256."""
    profile = evidence.get("profile")
    profile = profile if isinstance(profile, dict) else {}
    subjects = [
        ("image", evidence.get("image_digest")),
        ("seccomp", evidence.get("seccomp_sha256")),
        (f"profile:{profile.get('name')}", profile.get("sha256")),
        ("inspector", evidence.get("inspector_sha256")),
    ]
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": h}} for name, value in subjects if (h := _hex(value))],
        "predicateType": PREDICATE_TYPE,
        "predicate": dict(evidence),
    }


def _field(doc: Mapping[str, Any], *path: str) -> object:
    value: object = doc
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def receipt_statement(receipt: Mapping[str, Any]) -> dict[str, Any]:
    """Subjects: what the run made, each output file by sha256 under the name ``run --out``
    copies it to (``out/PATH``), and the image that ran, by its ID; the predicate is the
    receipt. A consumer finds an artifact among the subjects, then reads how it was made."""
    outputs = receipt.get("outputs")
    made = [
        (f"{OUTPUT_DIR}/{e.get('path')}", e.get("sha256"))
        for e in (outputs if isinstance(outputs, list) else [])
        if isinstance(e, dict) and e.get("type") == "file"
    ]
    subjects = [("image", _field(receipt, "image", "id")), *made]
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": h}} for name, value in subjects if (h := _hex(value))],
        "predicateType": RECEIPT_TYPE,
        "predicate": dict(receipt),
    }


def keygen(private_path: Path, public_path: Path) -> None:
    """A new key pair, each file made new (never a name already there, nor a link: review 19,
    a dangling link at the public key's name had root write through it), in a directory no
    other user can change (``safedir.check``)."""
    for p in (private_path, public_path):
        safedir.check(p.parent, "keygen", create=False)
        if os.path.lexists(p):
            raise SigningError(f"{p} exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    made: list[Path] = []
    try:  # both or neither: a private key without its public half is no key pair
        for path, data, mode in ((private_path, pem, 0o600), (public_path, public, 0o644)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
            made.append(path)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
    except OSError as exc:
        for path in made:
            path.unlink(missing_ok=True)
        if isinstance(exc, FileExistsError):
            raise SigningError(f"{exc.filename} exists; refusing to overwrite a key") from None
        raise SigningError(f"keygen {exc.filename}: cannot write ({exc.strerror})") from None


def _key_bytes(path: Path, what: str, option: str = "--key") -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SigningError(f"{option} {path}: not a readable {what} (cannot read: {exc.strerror or exc})") from exc


def signer(private_path: Path, option: str = "--key") -> CryptoSigner:
    """The ed25519 private key that signs; ``option`` is the flag that named it, for the error."""
    data = _key_bytes(private_path, "unencrypted PEM private key", option)
    if b"-----BEGIN PUBLIC KEY-----" in data:  # the pair's other half: say which file signs
        raise SigningError(
            f"{option} {private_path}: a public key; signing needs the private key (keygen's PREFIX.pem, "
            "not PREFIX.pub.pem)"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:  # the library's words name the format, never the key's bytes
        raise SigningError(f"{option} {private_path}: not a readable unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{option} {private_path}: expected an ed25519 key (make one with `sandproof keygen`)")
    return CryptoSigner(key, SSlibKey.from_crypto(key.public_key()))


def public_key(path: Path) -> SSlibKey:
    data = _key_bytes(path, "PEM public key")
    if b"PRIVATE KEY-----" in data:  # never echoed: only that it is the wrong half
        raise SigningError(
            f"--key {path}: a private key; verify needs the public key (keygen's PREFIX.pub.pem), "
            "and the private key stays with whoever signs"
        )
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise SigningError(f"--key {path}: not a readable PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"--key {path}: expected an ed25519 public key")
    return SSlibKey.from_crypto(key)


def sign_statement(body: Mapping[str, Any], key: CryptoSigner) -> dict[str, Any]:
    """The statement in a DSSE envelope signed with ``key`` (``signer``: read before the work
    whose result it signs, so a bad key is said before anything is judged or printed)."""
    payload = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    envelope = Envelope(payload=payload, payload_type=PAYLOAD_TYPE, signatures={})
    envelope.sign(key)
    return envelope.to_dict()


def _envelope(data: Mapping[str, Any]) -> Envelope:
    """The DSSE envelope, its shape checked first: securesystemslib assumes strings where a
    hostile file may put numbers or objects. Exactly DSSE's three fields (the envelope spec,
    secure-systems-lab/dsse envelope.md, defines no others, and ``sign`` writes no others): a
    polyglot file carrying an unsigned copy of the evidence beside the signed payload would show
    a reader that opens it as a bundle other facts than the ones the signature covers."""
    if extra := sorted(set(data) - bundle.ENVELOPE_KEYS):
        raise ValueError(f"fields other than payload, payloadType and signatures: {', '.join(extra)[:120]}")
    sigs = data.get("signatures")
    if (
        not isinstance(data.get("payload"), str)
        or not isinstance(data.get("payloadType"), str)
        or not isinstance(sigs, list)
        or not all(
            isinstance(g, dict) and isinstance(g.get("keyid"), str) and isinstance(g.get("sig"), str) for g in sigs
        )
    ):
        raise ValueError("payload, payloadType and signatures[].keyid/sig must be strings")
    return Envelope.from_dict(dict(data))


def _statement(payload: bytes) -> dict[str, Any]:
    """The signed payload through the same strict reader as a bundle (size, duplicate keys,
    NaN, depth): these exact bytes were verified, and only they are parsed."""
    try:
        return bundle.parse(payload, "DSSE payload")
    except BundleError as exc:
        raise ValueError(exc.message) from None


def open_envelope(
    data: Mapping[str, Any], key: SSlibKey, types: tuple[str, ...] = EVIDENCE_TYPES
) -> tuple[dict[str, Any] | None, str]:
    """Check the signature first; return the statement and a reason. None when it fails, or
    when the statement's predicate is not one of ``types``."""
    if not bundle.is_envelope(data):
        return None, "not signed: a DSSE envelope is required when --key is given"
    try:
        envelope = _envelope(data)
        if envelope.payload_type != PAYLOAD_TYPE:
            return None, f"payloadType {envelope.payload_type[:80]!r} is not {PAYLOAD_TYPE}"
        envelope.verify([key], 1)
        body = _statement(envelope.payload)
    except VerificationError as exc:
        return None, f"signature does not verify with key {key.keyid[:16]}…: {exc}"
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return None, f"malformed envelope: {str(exc)[:240]}"
    if body.get("_type") != STATEMENT_TYPE or body.get("predicateType") not in types:
        return None, _not_of(types, body.get("predicateType"))
    return body, f"signed by key {key.keyid[:16]}…"


def unverified_statement(data: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The envelope's statement without checking any signature (no key was given)."""
    try:
        body = _statement(_envelope(data).payload)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return None, f"malformed envelope: {str(exc)[:240]}"
    return body, "a signed envelope"


@dataclass(frozen=True)
class Opened:
    """A DSSE envelope opened for ``verify``: the statement's predicate (None: refused, the
    reason says why), whether its signature was checked, and whether its subjects are the
    predicate's own digests."""

    predicate: dict[str, Any] | None
    signature: Verdict
    """PASS: verified with the key; UNVERIFIED: no key given; FAIL: refused."""
    reason: str
    subjects_match: bool


def open_statement(data: Mapping[str, Any], key: SSlibKey | None, types: tuple[str, ...]) -> Opened:
    """``open_envelope`` with ``key``, else the statement unchecked; either way only a statement
    whose predicate is one of ``types``."""
    if key is None:
        body, reason = unverified_statement(data)
        found = None if body is None else body.get("predicateType")
        if body is not None and found not in types:
            body, reason = None, _not_of(types, found)
        elif body is not None:
            reason = f"{reason}; no --key given, so not checked"
        verdict = Verdict.UNVERIFIED
    else:
        body, reason = open_envelope(data, key, types)
        verdict = Verdict.PASS
    if body is None:
        return Opened(None, Verdict.FAIL, reason, False)
    predicate = body.get("predicate")
    return Opened(predicate if isinstance(predicate, dict) else {}, verdict, reason, subjects_match(body))


def _not_of(types: tuple[str, ...], found: object) -> str:
    if found == RECEIPT_TYPE:  # what to do instead, for the likeliest mix-up
        return "a signed run receipt, not evidence: verify RECEIPT --attestation BUNDLE"
    what = "a run receipt" if types == (RECEIPT_TYPE,) else "sandproof evidence"
    return f"the signed payload is not an in-toto Statement v1 of {what}"


def subjects_match(body: Mapping[str, Any]) -> bool:
    """The statement's subjects must be the evidence's (or the receipt's) own digests."""
    predicate = body.get("predicate")
    made = receipt_statement if body.get("predicateType") == RECEIPT_TYPE else statement
    return isinstance(predicate, dict) and made(predicate)["subject"] == body.get("subject")


@dataclass(frozen=True)
class Judged:
    """What a verification checked, as its summary records it: the evidence's signature
    ("verified" or "failed": a summary is only of evidence checked with a key) and the key that
    checked it, and the policy options in force."""

    signature: str
    keyid: str
    require_venue: str
    require_engine_view: bool
    check_inspector: bool


def _levels(result: Verdict, judged: Judged) -> list[str]:
    """``verifiedLevels``: "FAILED" when the policy failed (the spec's value), else one custom
    level per thing checked beyond the probes (the spec allows custom values not starting with
    ``SLSA_``, at most one per track): a consumer can require, say, the signed-evidence level."""
    if result != Verdict.PASS:
        return ["FAILED"]
    # signed, always: a summary is only of evidence checked with a key (``verify --vsa`` needs
    # --key), and a signature that does not verify fails the verdict
    levels = ["SANDPROOF_SANDBOX_VERIFIED", "SANDPROOF_EVIDENCE_SIGNED"]
    if judged.require_venue != "any":
        levels.append(f"SANDPROOF_VENUE_{judged.require_venue.upper()}")
    if judged.require_engine_view:
        levels.append("SANDPROOF_ENGINE_VIEW")
    return levels


def vsa(
    result: Verdict,
    resource: str,
    digest: str,
    matrix: str,
    profile: tuple[str, str],
    *,
    judged: Judged,
    when: dt.datetime | None = None,
) -> dict[str, Any]:
    """A SLSA verification summary of one verification, as an in-toto statement (SLSA VSA v1,
    slsa.dev/spec/v1.0/verification_summary). The policy is the profile judged against (by
    digest: a file may take a shipped profile's name) bound to the requirement matrix, with the
    options in force as its annotations (a ResourceDescriptor field); the input attestation says
    whether its signature was checked and by which key. ``profile`` is (name, sha256)."""
    signature = {"signature": judged.signature, "keyid": judged.keyid}
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": resource, "digest": {"sha256": digest}}],
        "predicateType": VSA_TYPE,
        "predicate": {
            "verifier": {"id": f"https://sandproof.invalid/verifier/{__version__}"},
            "timeVerified": (when or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "resourceUri": resource,
            "policy": {
                "uri": f"https://sandproof.invalid/matrices/{matrix}",
                "name": profile[0],
                "digest": {"sha256": profile[1]},
                "annotations": {
                    "matrix": matrix,
                    "require_venue": judged.require_venue,
                    "require_engine_view": judged.require_engine_view,
                    "check_inspector": judged.check_inspector,
                },
            },
            "inputAttestations": [{"uri": resource, "digest": {"sha256": digest}, "annotations": signature}],
            "verificationResult": "PASSED" if result == Verdict.PASS else "FAILED",
            "verifiedLevels": _levels(result, judged),
        },
    }
