"""Options shared by several commands."""

from __future__ import annotations

import argparse

from sandproof import contract

PROFILE_HELP = f"a shipped profile ({', '.join(contract.SHIPPED_PROFILES)}) or a profile TOML file (default: default)"


def add_profile(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--profile", default="default", metavar="NAME|FILE", help=PROFILE_HELP)
