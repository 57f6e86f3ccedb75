"""Options shared by several commands."""

from __future__ import annotations

import argparse

from sandproof import contract

PROFILE_HELP = f"a shipped profile ({', '.join(contract.SHIPPED_PROFILES)}) or a profile TOML file (default: default)"


def add_profile(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--profile", default="default", metavar="NAME|FILE", help=PROFILE_HELP)


def add_image(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--image",
        metavar="REF",
        help="the user's image the harness is carried into: busybox, example or an image of the local "
        "Docker engine (sets the profile's [image] workload)",
    )
