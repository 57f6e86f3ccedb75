"""``sandproof selftest``: the mutation suite, proving every probe can FAIL."""

from __future__ import annotations

import argparse
import difflib
import sys
import textwrap
from typing import Any

from sandproof import contract
from sandproof.cli._common import add_profile, terminate_as_interrupt
from sandproof.errors import Error


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "selftest",
        help="weaken the sandbox one claim at a time and check a probe catches each",
        description=textwrap.fill(  # raw (the epilog's table keeps its columns), so wrapped here
            "Runs the sandbox once per single weakening of the profile (host network, writable rootfs, "
            "added capabilities, seccomp off, no limits, host namespaces, leaked sockets, ...) and checks "
            "that the probe bound to the weakened claim FAILs and that the run still writes its bundle. "
            "Prints the score. Exit 0 when every weakening is caught (or shown to have no effect on this host), "
            "1 otherwise, 2 on error.",
            width=79,
            break_on_hyphens=False,
        )
        + "\n\nexample:\n  sandproof selftest --runtime runc --only host-network rootfs-rw",
        add_help=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("-h", "--help", action=_HelpWithNames, help="show this help and every weakening's name")
    ap.add_argument(
        "--list", action=_ListNames, help="print every weakening (NAME, the probe that must FAIL, runtimes) and exit"
    )
    add_profile(ap)
    ap.add_argument(
        "--runtime",
        choices=contract.RUNTIME_CHOICES,
        default="auto",
        help="auto uses docker when a daemon answers, else runc (default: auto)",
    )
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
        parser.epilog = "weakenings (NAME, the probe that must FAIL, where it can be expressed):\n" + _names("  ")
        parser.print_help()
        parser.exit()


class _ListNames(_HelpWithNames):
    """--list: the weakenings alone, one a line, for a person choosing --only or a script."""

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        sys.stdout.write(_names(""))
        parser.exit()


def _names(indent: str) -> str:
    from sandproof.weaken import WEAKENINGS

    return "".join(f"{indent}{w.name:<34} {w.probe_id:<16} {','.join(w.runtimes)}\n" for w in WEAKENINGS)


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
    with terminate_as_interrupt():  # a cancelled job undoes a weakening's host setup as Ctrl-C does
        outcomes = selftest.run(
            prof, runtime, only=args.only, progress=lambda msg: print(f"sandproof: {msg}", file=sys.stderr)
        )
    sys.stdout.write(selftest.render(outcomes, runtime))
    return 0 if outcomes and all(o.settled for o in outcomes) else 1
