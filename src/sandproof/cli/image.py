"""``sandproof image build``: assemble the image offline and load it into the engine."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sandproof import contract
from sandproof.cli._common import add_profile


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "image", help="build the sandbox image", description="The sandbox image: `sandproof image build` assembles it."
    )
    isub = ap.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = isub.add_parser(
        "build",
        help="assemble the image from pinned Debian packages and load it",
        description="Assemble a distroless-style python3.11 image from pinned Debian packages (no registry "
        "needed), reproducibly: two builds give the same image ID. Loads it into Docker when a "
        "daemon answers (with the base alone as sandproof/distroless-python3:bookworm, so "
        "`docker build` of the rendered Dockerfile.sandbox works offline) and unpacks it for runc.",
        epilog=contract.CACHE_HELP,
    )
    add_profile(build)
    build.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sandproof import image as images
    from sandproof import profile as profiles
    from sandproof.progress import Display
    from sandproof.runtime.docker import Docker
    from sandproof.runtime.runc import Runc

    prof = profiles.load(args.profile)
    display = Display.for_stream(sys.stderr)  # a live line on a terminal only
    display.say(f"sandproof: assembling {prof.image.name}")
    with display.step(f"image: assembling {prof.image.name}"):
        img = images.build(prof)
    for rt in (Docker(), Runc()):
        if rt.available():
            with display.step(f"image: handing it to {rt.name}"):
                rt.prepare(img)
                if rt.name == "docker":
                    images.ensure_docker(images.base_of(img))
            display.say(f"sandproof: ready for {rt.name}")
    print(f"{img.name} {img.image_id}")
    return 0
