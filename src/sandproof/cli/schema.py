"""``sandproof schema NAME``: print a shipped JSON Schema."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sandproof import bundle


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "schema",
        help="print a bundle JSON Schema",
        description="Print one of the JSON Schemas bundles are checked against before anything else.",
    )
    ap.add_argument("name", choices=sorted(bundle.NAMES))
    ap.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(bundle.schema_text(args.name))
    return 0
