"""``sandproof render``: one artifact derived from the profile."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from typing import Any

from sandproof import contract
from sandproof.cli._common import add_profile


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "render",
        help="print an artifact derived from the profile",
        description="Print the docker run argv, the podman run argv, the seccomp JSON, the OCI config.json "
        "or the Dockerfile that the profile implies. podman's argv names sandproof's own podman storage "
        "(its images are loaded by `attest --runtime podman`); as a shell line it starts with the two "
        "variables that keep a user's containers.conf and storage.conf out.",
    )
    ap.add_argument("artifact", choices=("docker", "podman", "seccomp", "oci", "dockerfile", "workflow"))
    ap.add_argument("--sign", choices=contract.SIGN_CHOICES, default="none", help="workflow: add keyless signing")
    add_profile(ap)
    ap.add_argument(
        "--in", dest="in_dir", default=os.path.join(os.getcwd(), "in"), help="host input directory (mounted read-only)"
    )
    ap.add_argument(
        "--out",
        dest="out_dir",
        default=os.path.join(os.getcwd(), "out"),
        help="host output directory (mounted read-write)",
    )
    ap.add_argument(
        "--format", choices=("shell", "json"), default="shell", help="docker/podman argv: a shell line or a JSON array"
    )
    ap.add_argument("--run-date", default=dt.date.today().isoformat())
    ap.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sandproof import profile as profiles
    from sandproof import seccomp
    from sandproof.render import docker, dockerfile, oci, workflow

    prof = profiles.load(args.profile)
    if args.artifact == "docker":
        argv = docker.argv(
            prof, in_dir=args.in_dir, out_dir=args.out_dir, seccomp_file=prof.seccomp.file_name, run_date=args.run_date
        )
        print(json.dumps(argv) if args.format == "json" else docker.shell(argv))
    elif args.artifact == "podman":
        _podman(prof, args)
    elif args.artifact == "seccomp":
        sys.stdout.buffer.write(seccomp.render(prof))
    elif args.artifact == "oci":
        cfg = oci.config(prof, in_dir=args.in_dir, out_dir=args.out_dir, run_date=args.run_date)
        print(json.dumps(cfg, indent=2))
    elif args.artifact == "workflow":
        sys.stdout.write(workflow.render(prof, sign=args.sign))
    else:
        sys.stdout.write(dockerfile.render(prof))
    return 0


def _podman(prof: Any, args: argparse.Namespace) -> None:
    from sandproof.render import docker, podman
    from sandproof.runtime import podman as runtime

    rt = runtime.Podman()
    engine = runtime.engine(runtime.remembered_driver() or "overlay")  # no spawn: attest chooses and remembers
    argv = podman.argv(
        prof,
        engine=engine,
        in_dir=args.in_dir,
        out_dir=args.out_dir,
        seccomp_file=prof.seccomp.file_name,
        run_date=args.run_date,
    )
    if args.format == "json":
        print(json.dumps(argv))
    else:
        print(docker.shell([*runtime.printable_prefix(rt.env({})), *argv]))
