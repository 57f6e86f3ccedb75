"""``sandproof init [DIR]`` and ``sandproof init --check DIR``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sandproof import contract
from sandproof.cli._common import add_profile
from sandproof.errors import Error


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "init",
        help="write the CI attestation repository layout, rendered from a profile",
        description="Writes the workflow, Dockerfile.sandbox, the seccomp JSON, the inspector and the profile "
        "into DIR (seed §1). Never creates, pushes or publishes anything; prints the gh commands for "
        "a person to run. With --check, compares DIR with what its profile renders and names the "
        "first differing line of each drifted file (exit 1).",
    )
    ap.add_argument(
        "dir",
        nargs="?",
        default=".",
        type=Path,
        metavar="DIR",
        help="where the layout goes (default: the current directory)",
    )
    add_profile(ap)
    ap.add_argument("--check", action="store_true", help="compare instead of write (the profile in DIR wins)")
    ap.add_argument(
        "--sign",
        choices=contract.SIGN_CHOICES,
        default="none",
        help="github: add keyless GitHub artifact attestations (id-token: write, attestations: write) (default: none)",
    )
    ap.add_argument(
        "--sandproof-spec",
        metavar="PIP_SPEC",
        help="what the workflow pip-installs (default: sandproof==<this version>)",
    )
    ap.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sandproof import init as layout
    from sandproof import profile as profiles
    from sandproof.render import workflow

    root: Path = args.dir
    if root.exists() and not root.is_dir():
        raise Error(
            f"{root}: not a directory; expected a directory for the layout (new, or one `sandproof init` wrote)"
        )
    if args.check:
        if not (root / workflow.PROFILE_FILE).is_file():
            raise Error(
                f"{root}: no {workflow.PROFILE_FILE}; expected a directory `sandproof init` wrote "
                f"(run `sandproof init {root}` first)"
            )
        prof = profiles.load(str(root / workflow.PROFILE_FILE))
        problems = layout.drift(prof, root, sign=args.sign, sandproof_spec=args.sandproof_spec)
        for line in problems:
            print(f"drift: {line}")
        print(f"{'FAIL' if problems else 'PASS'}: {root} {'differs from' if problems else 'matches'} its profile")
        return 1 if problems else 0
    prof = profiles.load(args.profile)
    from sandproof import safedir

    safedir.check(root, "init", create=True)  # before anything is made (review 20): no other user's on the way
    for rel in layout.write(prof, root, sign=args.sign, sandproof_spec=args.sandproof_spec):
        print(f"wrote {root / rel}")
    sys.stdout.write(layout.gh_commands(root))
    return 0
