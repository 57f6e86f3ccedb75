"""``sandproof selftest``: the mutation suite, proving every probe can FAIL."""

from __future__ import annotations

import argparse
import difflib
import sys
from typing import Any

from sandproof import contract
from sandproof.cli._common import add_profile
from sandproof.errors import Error


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "selftest",
        help="weaken the sandbox one claim at a time and check a probe catches each",
        description="Runs the sandbox once per single weakening of the profile (host network, writable rootfs, "
        "added capabilities, seccomp off, no limits, host namespaces, leaked sockets, ...) and checks "
        "that the probe bound to the weakened claim FAILs and that the run still writes its bundle. "
        "Prints the score. Exit 0 when every weakening is caught (or shown to have no effect on this host), "
        "1 otherwise, 2 on error.",
        add_help=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("-h", "--help", action=_HelpWithNames, help="show this help and every weakening's name")
    add_profile(ap)
    ap.add_argument("--runtime", choices=contract.RUNTIME_CHOICES, default="auto")
    ap.add_argument(
        "--only", nargs="+", metavar="NAME", help="run only these weakenings (names as `selftest` lists them)"
    )
    ap.set_defaults(func=run)


class _HelpWithNames(argparse.Action):
    """--help lists the weakenings: read only when help is asked for (the parser of every
    other command loads no weakening)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from sandproof.weaken import WEAKENINGS

        lines = [f"  {w.name:<34} {w.probe_id:<16} {','.join(w.runtimes)}" for w in WEAKENINGS]
        parser.epilog = "weakenings (NAME, the probe that must FAIL, where it can be expressed):\n" + "\n".join(lines)
        parser.print_help()
        parser.exit()


def run(args: argparse.Namespace) -> int:
    from sandproof import profile as profiles
    from sandproof import selftest
    from sandproof.attest import select_runtime
    from sandproof.weaken import WEAKENINGS

    known = [w.name for w in WEAKENINGS]
    for name in args.only or []:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise Error(f"--only {name!r}: no such weakening{hint}")
    prof = profiles.load(args.profile)
    runtime = select_runtime(args.runtime).name
    by_name = {w.name: w for w in WEAKENINGS}
    for name in args.only or []:
        if runtime not in by_name[name].runtimes:  # nothing to run: an error, never "caught 0/0"
            where = ", ".join(by_name[name].runtimes)
            raise Error(f"--only {name!r}: cannot be expressed on {runtime} (only on {where})")
    outcomes = selftest.run(
        prof, runtime, only=args.only, progress=lambda msg: print(f"sandproof: {msg}", file=sys.stderr)
    )
    sys.stdout.write(selftest.render(outcomes, runtime))
    return 0 if outcomes and all(o.settled for o in outcomes) else 1
