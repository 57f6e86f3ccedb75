"""The verifier's policy options (``--key``, ``--require-venue``, ``--require-engine-view``,
``--matrix``), one definition for every command that judges evidence: ``verify`` on a bundle,
``verify RECEIPT --attestation B`` and ``run --require-attested B``. The same option means the
same check wherever it is given (review 11: the receipt path and the run gate judged with the
default policy and no key, so a receipt could PASS on evidence ``verify B`` FAILs)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sandproof import contract

if TYPE_CHECKING:
    from securesystemslib.signer import SSlibKey

    from sandproof import matrix as matrices
    from sandproof import verify as verifier

DEFAULT_MATRIX = "sandproof"
DEFAULT_VENUE = "any"


def add(ap: argparse.ArgumentParser, *, what: str) -> None:
    """The options, defaulting to None so a command can tell an option given from its default
    (``run`` refuses them without --require-attested). ``what``: the evidence they apply to."""
    ap.add_argument(
        "--key",
        type=Path,
        metavar="PUB",
        help=f"ed25519 public key (PEM): {what} must be a DSSE envelope signed with it; checked first",
    )
    ap.add_argument(
        "--require-venue",
        choices=contract.VENUES,
        help=f"refuse {what} from other venues; Mac-local and unknown venues are refused unless 'any' "
        f"(default: {DEFAULT_VENUE})",
    )
    ap.add_argument(
        "--require-engine-view",
        action="store_true",
        help=f"FAIL {what} without the engine's own view of the sandbox (bundles before it carry none)",
    )
    ap.add_argument(
        "--matrix",
        metavar="NAME|FILE",
        help=f"requirement matrix: {', '.join(contract.SHIPPED_MATRICES)} or a TOML file (default: {DEFAULT_MATRIX})",
    )


def given(args: argparse.Namespace) -> list[str]:
    """The policy options given on the command line, by their flag."""
    named = [
        ("--key", args.key is not None),
        ("--require-venue", args.require_venue is not None),
        ("--require-engine-view", bool(args.require_engine_view)),
        ("--matrix", args.matrix is not None),
    ]
    return [flag for flag, on in named if on]


@dataclass(frozen=True)
class Judging:
    """The policy, key and matrix a command judges evidence with."""

    policy: verifier.Policy
    key: SSlibKey | None
    matrix: matrices.Matrix


def resolve(args: argparse.Namespace, *, check_inspector: bool) -> Judging:
    """The options as the verifier takes them; the key read only when one is given (the signing
    code, securesystemslib and cryptography, is ~50 ms of imports)."""
    from sandproof import matrix as matrices  # not at CLI import time
    from sandproof.provenance import Policy

    key = None
    if args.key is not None:
        from sandproof import signing

        key = signing.public_key(args.key)
    policy = Policy(
        require_venue=args.require_venue or DEFAULT_VENUE,
        check_inspector=check_inspector,
        require_engine_view=bool(args.require_engine_view),
    )
    return Judging(policy, key, matrices.load(args.matrix or DEFAULT_MATRIX))
