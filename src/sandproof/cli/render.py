"""``sandproof render``: one artifact derived from the profile.

``docker`` and ``oci`` with ``--in DIR --out DIR`` write what the printed command needs
(``render/runnable.py``) and print a command that runs as shown; without them they print
the command or config for the default directories and write nothing."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from sandproof import contract
from sandproof.cli._common import Formatter, add_profile, examples
from sandproof.errors import Error

if TYPE_CHECKING:
    from sandproof.profile import Profile

ARTIFACTS = ("docker", "podman", "seccomp", "oci", "dockerfile", "workflow", "plan", "k8s")


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "render",
        help="print an artifact derived from the profile",
        description="Print the docker or podman run argv, the seccomp JSON, the OCI config.json, the "
        "Dockerfile, the workflow, the plan the harness reads or the Kubernetes manifests, as the profile "
        "implies them. docker, podman and oci "
        "with --in DIR --out DIR also write what the command needs (the plan and packet into --in, an empty "
        "/out owned by the profile's user, as root the bounded tmpfs attest mounts; the seccomp file or the "
        "OCI bundle beside --in; the image built and loaded) and print a command that runs as shown. podman's "
        "argv names sandproof's own podman storage (its images are loaded by `attest --runtime podman`); as a "
        "shell line it starts with the two variables that keep a user's containers.conf and storage.conf out.",
        epilog=examples(
            "sandproof render docker                          # the docker run line, nothing written",
            "sandproof render docker --in in --out out        # write in/, out/, the seccomp file; load the image",
            "sandproof render seccomp --profile mine.toml > seccomp.json",
            "sandproof render plan --runtime runc",
            "sandproof render k8s --kind daemonset --image-ref registry.example/sandproof@sha256:...",
        ),
        formatter_class=Formatter,
    )
    ap.add_argument("artifact", choices=ARTIFACTS, metavar="ARTIFACT", help=f"one of: {', '.join(ARTIFACTS)}")
    ap.add_argument(
        "--kind",
        choices=("job", "pod", "daemonset"),
        default="job",
        help="k8s: the harness as a Job, a Pod, or a DaemonSet attesting every node (default: job)",
    )
    ap.add_argument(
        "--image-ref",
        metavar="REF",
        help="k8s: the image the nodes pull, pinned: REF@sha256:<64 hex> (default: the profile's image name)",
    )
    ap.add_argument(
        "--sign",
        choices=contract.SIGN_CHOICES,
        default="none",
        help="workflow: github adds keyless signing (default: none)",
    )
    add_profile(ap)
    ap.add_argument(
        "--in",
        dest="in_dir",
        metavar="DIR",
        help="host input directory (mounted read-only); written with --out (default: write nothing)",
    )
    ap.add_argument(
        "--out", dest="out_dir", metavar="DIR", help="host output directory (mounted read-write); made with --in"
    )
    ap.add_argument(
        "--runtime", choices=plan_runtimes(), default="docker", help="plan: the runtime it is for (default: docker)"
    )
    ap.add_argument(
        "--format",
        choices=("shell", "json", "yaml"),
        help="docker/podman/oci --in --out: the command as a shell line (default) or a JSON array (oci: run "
        "it with standard input from /dev/null, as the shell line's </dev/null does: runc copies its own into "
        "the sandbox; stderr says so too); k8s: YAML (default) or a JSON v1 List",
    )
    ap.add_argument(
        "--run-date",
        default=dt.date.today().isoformat(),
        metavar="DATE",
        help="the date stamp the rendered run carries, as attest's --run-date (default: today)",
    )
    ap.set_defaults(func=run)


def plan_runtimes() -> tuple[str, ...]:
    return tuple(r for r in contract.RUNTIME_CHOICES if r != "auto")


def _runnable(args: argparse.Namespace, prof: Profile) -> int:
    """docker|podman|oci with --in and --out: write, then print the command that runs as shown."""
    from sandproof.render import docker, runnable
    from sandproof.report import visible

    if args.in_dir is None or args.out_dir is None:
        raise Error("--in and --out: give both, or neither (then nothing is written)")
    # a file or a link at --in or --out: refused by prepare, which opens neither through a link
    runtime = {"docker": "docker", "podman": "podman"}.get(args.artifact, "runc")
    prepared = runnable.prepare(prof, runtime, in_dir=args.in_dir, out_dir=args.out_dir)
    build = {"docker": runnable.docker_argv, "podman": runnable.podman_argv}.get(args.artifact, runnable.oci_argv)
    argv, notes = build(prof, prepared, args.run_date)
    for note in notes:
        print(f"sandproof: {visible(note)}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(argv))
    else:  # runc copies its own stdin into the sandbox's (PR-FD-1: it must end at once)
        print(docker.shell(argv) + (" </dev/null" if runtime == "runc" else ""))
    return 0


FORMATS = {"docker": ("shell", "json"), "podman": ("shell", "json"), "oci": ("shell", "json"), "k8s": ("yaml", "json")}
"""The formats each artifact prints, its default first (oci: its runnable command, --in --out)."""


def _check_format(args: argparse.Namespace) -> None:
    """A --format the artifact cannot print is refused, not silently ignored; unset, the default."""
    allowed = FORMATS.get(args.artifact, ())
    if args.format is None:
        args.format = allowed[0] if allowed else None
    elif args.format not in allowed:
        expected = f"it prints {' or '.join(allowed)}" if allowed else "it has one format and takes no --format"
        raise Error(f"--format {args.format}: render {args.artifact} cannot print that; {expected}")


def _check_values(args: argparse.Namespace) -> None:
    """--run-date and --image-ref are checked before anything is rendered or written: they reach
    the harness's argv, shell-quoted lines and the manifests the nodes run. The run date is
    attest's check (what render prints, attest would take)."""
    from sandproof.attest import check_run_date
    from sandproof.render import k8s

    check_run_date(args.run_date)
    if args.image_ref is None:
        return
    if args.artifact != "k8s":
        raise Error(f"--image-ref: render {args.artifact} does not take it; only render k8s names an image to pull")
    k8s.check_image_ref(args.image_ref)


def run(args: argparse.Namespace) -> int:
    from sandproof import profile as profiles
    from sandproof import seccomp
    from sandproof.render import docker, dockerfile, oci, runnable, workflow

    _check_format(args)
    _check_values(args)
    prof = profiles.load(args.profile)
    if args.artifact in ("docker", "podman", "oci") and (args.in_dir is not None or args.out_dir is not None):
        return _runnable(args, prof)
    in_dir, out_dir = os.path.join(os.getcwd(), "in"), os.path.join(os.getcwd(), "out")
    if args.artifact == "docker":
        argv = docker.argv(
            prof, in_dir=in_dir, out_dir=out_dir, seccomp_file=prof.seccomp.file_name, run_date=args.run_date
        )
        print(json.dumps(argv) if args.format == "json" else docker.shell(argv))
    elif args.artifact == "podman":
        _podman(prof, args)
    elif args.artifact == "seccomp":
        sys.stdout.buffer.write(seccomp.render(prof))
    elif args.artifact == "oci":
        cfg = oci.config(prof, in_dir=in_dir, out_dir=out_dir, run_date=args.run_date)
        print(json.dumps(cfg, indent=2))
    elif args.artifact == "plan":
        sys.stdout.write(runnable.plan_text(prof, args.runtime))
    elif args.artifact == "k8s":
        _k8s(prof, args)
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
    runtime.empty_host_config(engine)  # the printed --hooks-dir and mounts file must exist (and be empty)
    argv = podman.argv(
        prof,
        engine=engine,
        in_dir=args.in_dir or os.path.join(os.getcwd(), "in"),
        out_dir=args.out_dir or os.path.join(os.getcwd(), "out"),
        seccomp_file=prof.seccomp.file_name,
        run_date=args.run_date,
    )
    if args.format == "json":
        print(json.dumps(argv))
    else:
        print(docker.shell([*runtime.printable_prefix(rt.env({})), *argv]))


def _k8s(prof: Profile, args: argparse.Namespace) -> None:
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
