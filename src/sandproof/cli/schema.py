"""``sandproof schema NAME``: print a shipped JSON Schema."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sandproof import contract


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "schema",
        help="print a bundle JSON Schema",
        description="Print one of the JSON Schemas bundles are checked against before anything else.",
    )
    ap.add_argument("name", choices=sorted(contract.SCHEMA_NAMES))
    ap.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sandproof import bundle

    sys.stdout.write(bundle.schema_text(args.name))
    return 0
