"""Options shared by several commands."""

from __future__ import annotations

import argparse

from sandproof import profile as profiles

PROFILE_HELP = f"a shipped profile ({', '.join(profiles.SHIPPED)}) or a profile TOML file (default: default)"


def add_profile(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--profile", default="default", metavar="NAME|FILE", help=PROFILE_HELP)
