"""``sandproof learn``: the seccomp allowlist a workload needs, as a new profile."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from sandproof.cli._common import add_profile, terminate_as_interrupt


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "learn",
        help="learn a workload's seccomp allowlist (runc, strace)",
        description="Run the workload N times on runc in the profile's sandbox, trace its system calls "
        "from the host (strace -f on runc's process tree, counted from the entrypoint's execve) and write "
        "a profile whose seccomp is default-deny with the learned allowlist, each name commented with the "
        "runs that needed it. REF: 'busybox', 'example' (sandproof's own workload images) or an image in "
        "the local Docker engine. Needs root (runc) and strace.",
        epilog="example: sandproof learn --image example --in examples/packet-inspector/in --out learned.toml",
    )
    add_profile(ap)
    ap.add_argument("--image", required=True, metavar="REF", help="the workload's image")
    ap.add_argument("--runs", type=_positive, default=3, metavar="N", help="how many traced runs (default: 3)")
    ap.add_argument(
        "--in", dest="in_dir", type=Path, metavar="DIR", help="the directory bound read-only as /in (default: empty)"
    )
    ap.add_argument("--out", type=Path, metavar="FILE", help="the profile to write (default: ./learned-<image>.toml)")
    ap.add_argument("--force", action="store_true", help="replace --out when it exists (default: refuse)")
    ap.add_argument("cmd", nargs="*", metavar="-- CMD", help="the command instead of the image's CMD")
    ap.set_defaults(func=run)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a whole number of runs, at least 1, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    from sandproof import atomic, safedir, seccomp
    from sandproof import profile as profiles
    from sandproof.errors import Error, OutputError
    from sandproof.runtime.runc import require_root
    from sandproof.workload import images, learned_profile
    from sandproof.workload.learn import learn

    prof = profiles.load(args.profile)
    stem = args.image.replace("/", "-").replace(":", "-")
    out: Path = args.out or Path(f"learned-{stem}.toml")
    if out.is_dir():
        raise OutputError(f"--out {out}: is a directory; expected the profile file to write, e.g. {out}/learned.toml")
    atomic.refuse_special(out, "--out")  # before the runs: --force never replaces a device
    safedir.check_nearest(out.parent, "--out")  # and its directory before the runs too (review 20)
    if os.path.lexists(out) and not args.force:  # a profile the user may have edited: never replaced silently
        raise OutputError(f"--out {out}: exists; not overwritten (give another --out, or --force to replace it)")
    if args.in_dir is not None and not args.in_dir.is_dir():
        raise Error(f"--in {args.in_dir}: not a directory; expected the directory bound read-only as /in")
    require_root("runc")
    img = images.resolve(args.image)
    print(f"sandproof: learning {img.name} ({img.image_id[:19]}), {args.runs} run(s) on runc", file=sys.stderr)
    in_dir = args.in_dir.resolve() if args.in_dir else None  # runc resolves a relative source in its bundle
    with terminate_as_interrupt():  # a cancelled job stops and removes the runs as Ctrl-C does
        learned = learn(prof, img, args.cmd, runs=args.runs, in_dir=in_dir)
    text = learned_profile.render(prof, learned, f"{prof.name}-learned-{stem}")
    written = profiles.parse(text, str(out))  # what is written loads: refused here, not at attest
    # as given, never resolved first: a link on the way is checked (review 19)
    atomic.publish(out.parent.absolute(), {out.name: text.encode()}, what="--out")
    for what, names in (("rules", learned.denied), ("default action (outside its allowlist)", learned.refused)):
        if names:
            print(
                f"sandproof: tried but denied by the base profile's {what}, left denied: {', '.join(sorted(names))}",
                file=sys.stderr,
            )
    codes = ", ".join(str(r.exit_code) for r in learned.runs)
    floors = len(seccomp.allowed(written, learned.arch))
    print(
        f"{out}: {len(learned.allow())} syscalls allowed ({learned.arch}; {floors} with the runtime's and the "
        f"harness's floors), learned in {learned.wall_s:.2f}s; workload exit codes: {codes}"
    )
    return 0
