"""``sandproof profile show``: the effective profile."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser("profile", help="show a profile")
    psub = ap.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = psub.add_parser("show", help="print the effective profile (every default filled in) as JSON")
    show.add_argument("profile", metavar="NAME|FILE")
    show.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sandproof import profile as profiles

    prof = profiles.load(args.profile)
    data = dataclasses.asdict(prof)
    data.pop("text")
    print(json.dumps(data, indent=2))
    return 0
