"""``sandproof keygen`` and ``sandproof sign``: offline ed25519 signatures over evidence."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sandproof import contract
from sandproof.errors import BundleError


def register(sub: Any) -> None:
    kg: argparse.ArgumentParser = sub.add_parser(
        "keygen",
        help="make an ed25519 key pair for signing evidence",
        description="Write PREFIX.pem (private, mode 0600) and PREFIX.pub.pem. Never overwrites a key.",
    )
    kg.add_argument(
        "prefix", nargs="?", default="sandproof-key", type=Path, metavar="PREFIX", help="(default: sandproof-key)"
    )
    kg.set_defaults(func=keygen)
    sg: argparse.ArgumentParser = sub.add_parser(
        "sign",
        help="wrap an evidence bundle or a run receipt as an in-toto statement in a signed DSSE envelope",
        description="The evidence becomes the predicate of an in-toto Statement v1 whose subjects are the image, "
        "the seccomp profile, the sandbox profile and the inspector, each by sha256; a run receipt "
        "(sandproof run's receipt.json) becomes the predicate of one whose subjects are the run's output "
        "files (out/PATH) and the image, by sha256. The statement is signed with ed25519 in a DSSE "
        "envelope. Verify with `sandproof verify --key PUB` (a receipt: `verify RECEIPT.dsse.json "
        "--attestation BUNDLE --key PUB`).",
    )
    sg.add_argument(
        "evidence", type=Path, metavar="FILE", help="the evidence bundle attest wrote, or the receipt run wrote"
    )
    sg.add_argument(
        "--key", type=Path, required=True, metavar="KEY", help="ed25519 private key (PEM): keygen's PREFIX.pem"
    )
    sg.add_argument("--out", type=Path, metavar="FILE", help="envelope file (default: EVIDENCE with .dsse.json)")
    sg.set_defaults(func=sign)


def keygen(args: argparse.Namespace) -> int:
    from sandproof import signing

    private, public = Path(f"{args.prefix}.pem"), Path(f"{args.prefix}.pub.pem")
    signing.keygen(private, public)
    print(f"private key: {private}\npublic key:  {public}")
    return 0


def sign(args: argparse.Namespace) -> int:
    from sandproof import atomic, bundle, signing

    # read once, strictly, and told apart by the schema it names (not its first bytes: a receipt
    # re-saved compact is still one, as verify reads it)
    doc = bundle.load_json(args.evidence)
    if doc.get("schema") == contract.RECEIPT_SCHEMA:
        body = signing.receipt_statement(_whole_receipt(doc, args.evidence))
    else:
        bundle.validate(doc, str(args.evidence))  # its schema: sign only well-formed evidence
        evidence = doc
        if evidence.get("schema") != contract.EVIDENCE_SCHEMA:
            raise BundleError(
                f"bundle {args.evidence}: only sandproof evidence bundles ({contract.EVIDENCE_SCHEMA}) and run "
                f"receipts ({contract.RECEIPT_SCHEMA}) are signed"
            )
        body = signing.statement(evidence)
    envelope = signing.sign_statement(body, signing.signer(args.key))
    out = args.out or args.evidence.with_name(args.evidence.name.removesuffix(".json") + contract.SIGNED_SUFFIX)
    atomic.publish(out.parent, {out.name: (json.dumps(envelope, indent=2) + "\n").encode()}, what="--out")
    print(out)
    return 0


def _whole_receipt(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    """A receipt as ``verify`` reads it, signed only whole: its schema and its own digest hold,
    and the run's output tree beside it (``run --out``) is the one it records, file by file:
    the statement's subjects are claims about those bytes (review 16: a receipt whose digest
    an editor recomputed was signed with subjects no run made)."""
    from sandproof import receipt, receipt_check
    from sandproof.inspector.wire import Verdict

    where = str(path)
    problem = receipt.shape_problem(doc)
    if problem is not None:
        raise BundleError(f"receipt {where}: {problem}")
    if not receipt.digest_holds(doc):
        raise BundleError(f"receipt {where}: receipt_sha256 is not the digest of its other fields: it was edited")
    beside = path.parent / receipt.OUTPUT_DIR
    if not beside.is_dir() or beside.is_symlink():
        raise BundleError(
            f"receipt {where}: no {receipt.OUTPUT_DIR}/ beside it; sign checks the run's output files against the "
            f"receipt first: sign it in the directory run --out wrote"
        )
    seen = receipt_check.outputs_check(doc, beside)
    if seen.verdict != Verdict.PASS:
        raise BundleError(f"receipt {where}: {seen.reason}")
    return doc
