"""``sandproof doctor PROFILE|DIR``: lint for every known sandbox pitfall, each with its fix."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sandproof import contract

FORMATS = ("text", "json", "sarif")


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "doctor",
        help="lint a profile or a repository layout for known sandbox pitfalls",
        description="Checks a profile (a shipped name or a TOML file), or a directory (its "
        "sandproof-profile.toml and seccomp JSON as `init` writes them, and every workflow under "
        ".github/workflows), against rules with stable IDs (SPDnnn), each with why and the fix. A profile's "
        '[[waiver]] rule = "SPDnnn" reason = "…" accepts a rule\'s findings: they are still shown, marked '
        "waived. Exit 0 when nothing but notes and waived findings remain, 1 otherwise, 2 invalid input.",
    )
    ap.add_argument(
        "target",
        metavar="PROFILE|DIR",
        help=f"a shipped profile ({', '.join(contract.SHIPPED_PROFILES)}), a profile TOML file, or a directory",
    )
    ap.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text, json, or sarif: SARIF 2.1.0 for code scanning (default: text)",
    )
    ap.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sandproof import doctor
    from sandproof.report import lint, sarif

    result = doctor.run(args.target)
    if args.format == "json":
        out = lint.json_text(result)
    elif args.format == "sarif":
        out = sarif.doctor(result)
    else:
        out = lint.text(result)
    sys.stdout.write(out)
    return 0 if result.ok else 1
