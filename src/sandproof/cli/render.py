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
        description="Print the docker run argv, the seccomp JSON, the OCI config.json, the Dockerfile, "
        "the CI workflow or the Kubernetes manifests that the profile implies.",
    )
    ap.add_argument("artifact", choices=("docker", "seccomp", "oci", "dockerfile", "workflow", "k8s"))
    ap.add_argument(
        "--kind",
        choices=("job", "pod", "daemonset"),
        default="job",
        help="k8s: the harness as a Job, a Pod, or a DaemonSet attesting every node (default: job)",
    )
    ap.add_argument(
        "--image-ref", metavar="REF", help="k8s: the image reference the nodes pull (default: the profile's)"
    )
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
        "--format",
        choices=("shell", "json", "yaml"),
        default="shell",
        help="docker argv as a shell line or a JSON array; k8s manifests as YAML (default) or a JSON v1 List",
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
    elif args.artifact == "seccomp":
        sys.stdout.buffer.write(seccomp.render(prof))
    elif args.artifact == "oci":
        cfg = oci.config(prof, in_dir=args.in_dir, out_dir=args.out_dir, run_date=args.run_date)
        print(json.dumps(cfg, indent=2))
    elif args.artifact == "k8s":
        from sandproof.render import k8s

        manifests = k8s.render(prof, kind=args.kind, run_date=args.run_date, image=args.image_ref)
        if args.format == "json":  # no comments in JSON: the gaps go to stderr, one line each
            for line in manifests.gaps:
                print(f"sandproof: warning: not expressible in Kubernetes: {line}", file=sys.stderr)
            for line in manifests.pss:
                print(f"sandproof: warning: Pod Security Standards, restricted: {line}", file=sys.stderr)
            sys.stdout.write(k8s.dumps_json(manifests))
        else:
            sys.stdout.write(k8s.dumps_yaml(manifests))
    elif args.artifact == "workflow":
        sys.stdout.write(workflow.render(prof, sign=args.sign))
    else:
        sys.stdout.write(dockerfile.render(prof))
    return 0
