"""Run receipts (``sandproof/receipt/v1``): what ``sandproof run`` did, bound by digest to
the attestation it relies on, and the checks that tie one to the other.

A receipt names the profile (name, digest), the image (ID), the seccomp policy (sha256 of
the bytes the engine was given), the exact ``docker run`` argv or OCI config (environment
names only), the runtime, exit code, wall time, stream byte counts and tails, and every
input and output file by sha256. ``receipt_sha256`` is the sha256 of the canonical JSON of
everything else (sorted keys, no spaces, UTF-8): an edited field no longer matches it. It is
an integrity check, not a signature: whoever can write the file can recompute it (receipts
are not signed yet; ``sandproof sign`` signs evidence bundles). The checks that bind a
receipt to its attestation are in ``receipt_check.py``; this module is only the format,
light enough for ``run`` to import.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sandproof import __version__, atomic, contract
from sandproof.capture import Captured
from sandproof.profile import Profile

SCHEMA = contract.RECEIPT_SCHEMA
OUTPUT_DIR = "out"
RECEIPT_NAME = "receipt.json"
"""``run --out DIR`` holds ``DIR/receipt.json`` and the workload's /out copied to ``DIR/out/``."""
TAIL_BYTES = 4096
"""How much of each stream's end the receipt keeps (the byte count is of the whole stream)."""


def workload_ref(image_ref: str) -> str | None:
    """The profile's ``[image] workload`` for a run of ``image_ref``: None for the profile's own
    probe image ("inspector"), which a plain ``attest`` proves."""
    return None if image_ref == "inspector" else image_ref


def digest(value: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of ``value``: sorted keys, no spaces, UTF-8."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _stream(cap: Captured) -> dict[str, Any]:
    kept = (cap.head + cap.tail)[-TAIL_BYTES:]
    # decoded with U+FFFD for broken bytes: never more characters than bytes, and JSON-safe
    return {"bytes": cap.total, "tail": kept.decode(errors="replace")}


@dataclass(frozen=True)
class Attested:
    """The attestation a run relies on: its file's name, the sha256 of its bytes, its date."""

    file: str
    sha256: str
    run_date: str


def build(
    *,
    profile: Profile,
    image_ref: str,
    image_id: str,
    seccomp_sha256: str,
    runtime: tuple[str, str],
    command: Sequence[str],
    sandbox: Mapping[str, Any],
    started_at: str,
    finished_at: str,
    wall_s: float,
    exit_code: int,
    timed_out: bool,
    refused: bool,
    stdout: Captured,
    stderr: Captured,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    output_limit: Mapping[str, object],
    attestation: Attested | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema": SCHEMA,
        "sandproof_version": __version__,
        "profile": {"name": profile.name, "source": profile.source, "sha256": profile.digest},
        "image": {"ref": image_ref, "id": image_id},
        "seccomp_sha256": seccomp_sha256,
        "runtime": {"name": runtime[0], "version": runtime[1]},
        "command": list(command),
        "sandbox": dict(sandbox),
        "started_at": started_at,
        "finished_at": finished_at,
        "wall_s": round(wall_s, 6),
        "exit_code": exit_code & 0xFF if exit_code >= 0 else 128 + (-exit_code & 0x7F),
        "timed_out": timed_out,
        "refused": refused,
        "stdout": _stream(stdout),
        "stderr": _stream(stderr),
        "inputs": inputs,
        "outputs": outputs,
        "output_limit": dict(output_limit),
        "attestation": None if attestation is None else vars(attestation).copy(),
    }
    return {**body, "receipt_sha256": digest(body)}


def digest_holds(doc: Mapping[str, Any]) -> bool:
    """Whether ``receipt_sha256`` is the digest of every other field (the receipt unedited)."""
    return digest({k: v for k, v in doc.items() if k != "receipt_sha256"}) == doc.get("receipt_sha256")


def write(out: Path, name: str, doc: Mapping[str, Any]) -> Path:
    # "schema" first (the order ``build`` made): ``verify`` tells a receipt by its first bytes
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    atomic.publish(out, {name: text.encode()}, what="--out")
    return out / name


@cache
def _validator() -> Any:
    import fastjsonschema  # noqa: PLC0415 - only verify checks a receipt's shape; run never does

    text = resources.files("sandproof.schemas").joinpath(contract.RECEIPT_SCHEMA_FILE).read_text("utf-8")
    return fastjsonschema.compile(json.loads(text))


def shape_problem(doc: object) -> str | None:
    """Why ``doc`` is not a v1 receipt, or None."""
    import fastjsonschema  # noqa: PLC0415 - as in _validator

    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        return f"not a {SCHEMA} document"
    try:
        _validator()(doc)
    except fastjsonschema.JsonSchemaValueException as exc:
        return f"does not match schema {SCHEMA}: {exc.message[:240]}"
    return None


def parse(raw: bytes, where: str) -> dict[str, Any]:
    """Strict JSON (duplicate keys, NaN refused: ``bundle.parse``); the shape is checked by ``verify``."""
    from sandproof import bundle  # noqa: PLC0415 - as in _validator

    return bundle.parse(raw, where)


def is_receipt(head: bytes) -> bool:
    """``verify``'s sniff of a file's first bytes: a receipt as ``write`` lays it out names its
    schema first. Only a shortcut to the right checks: the checks parse the whole file."""
    return head.startswith(contract.RECEIPT_HEAD)
