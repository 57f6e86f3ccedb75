"""``sandproof profile``: list, show, new, import docker, diff: profiles a user can own."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from sandproof import contract
from sandproof.cli._common import Formatter, examples

DESCRIPTION = (
    "Profiles a user can own: list the shipped ones, show one with every default filled in, write an "
    "annotated copy to edit (new), turn a docker run command into one (import docker), compare two (diff)."
)


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "profile",
        help="list, show, write, import or compare profiles",
        description=DESCRIPTION,
        epilog=examples(
            "sandproof profile new mine --from default     # writes mine.toml; edit it",
            "sandproof doctor mine.toml",
            "sandproof profile diff default mine.toml",
            "sandproof attest --profile mine.toml --out out",
        ),
        formatter_class=Formatter,
    )
    psub = ap.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = psub.add_parser("list", help="the shipped profiles, one a line with its description")
    lst.set_defaults(func=run_list)
    show = psub.add_parser("show", help="print the effective profile (every default filled in)")
    show.add_argument("profile", metavar="NAME|FILE", help="a shipped profile or a profile TOML file")
    show.add_argument(
        "--format", choices=("json", "toml"), default="json", help="json (default) or annotated TOML that loads back"
    )
    show.set_defaults(func=run_show)
    new = psub.add_parser(
        "new",
        help="write NAME.toml: an annotated copy of a profile, yours to edit",
        description="Write an annotated TOML profile named NAME, every key of --from (default: default) stated "
        "with what it means; it loads back to the same profile but for its name.",
    )
    new.add_argument("name", metavar="NAME", help="the new profile's name (and file name)")
    new.add_argument(
        "--from", dest="base", default="default", metavar="NAME|FILE", help="the profile to copy (default: default)"
    )
    new.add_argument("--out", metavar="FILE", help="where to write it (default: NAME.toml; - for stdout)")
    new.set_defaults(func=run_new)
    imp = psub.add_parser(
        "import",
        help="an existing docker run command as a profile (TOML on stdout)",
        description="sandproof profile import docker [--from P] -- docker run FLAGS… IMAGE [ARGS…]. Every key a "
        "flag states comes from the command (a flag left out means Docker's default); what a command cannot say "
        "comes from --from (default: default). One line on stderr for each flag no profile expresses. Exit 0 with "
        "a profile, 2 when nothing usable.",
    )
    imp.add_argument("engine", choices=("docker",))
    imp.add_argument(
        "--from",
        dest="base",
        default="default",
        metavar="NAME|FILE",
        help="what the command does not say comes from this profile (default: default)",
    )
    imp.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- ARGV")
    imp.set_defaults(func=run_import)
    diff = psub.add_parser(
        "diff",
        help="key by key, nested like the TOML: exit 0 the same, 1 different",
        description="Compare two profiles as loaded (defaults filled in): one line per key that differs, "
        "under its [table]. Exit 0 when they say the same, 1 when not, 2 on a bad profile.",
    )
    diff.add_argument("a", metavar="A", help="a shipped profile or a profile TOML file")
    diff.add_argument("b", metavar="B", help="a shipped profile or a profile TOML file")
    diff.set_defaults(func=run_diff)


def run_list(_args: argparse.Namespace) -> int:
    from sandproof import profile as profiles

    width = max(map(len, contract.SHIPPED_PROFILES))
    for name in contract.SHIPPED_PROFILES:
        print(f"{name.ljust(width)}  {profiles.load(name).description}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from sandproof import profile as profiles
    from sandproof import profiletoml

    prof = profiles.load(args.profile)
    if args.format == "toml":
        sys.stdout.write(profiletoml.dumps(prof, f"profile {prof.name} ({prof.source}), sha256 {prof.digest}"))
        return 0
    data = dataclasses.asdict(prof)
    data.pop("text")
    print(json.dumps(data, indent=2))
    return 0


def run_new(args: argparse.Namespace) -> int:
    from sandproof import atomic, profiletoml
    from sandproof import profile as profiles
    from sandproof.errors import OutputError

    base = profiles.load(args.base)
    header = (
        f"sandproof profile {args.name}, written by `sandproof profile new` from {base.source}.\n"
        "Every key is stated, with what it means; `sandproof profile diff` compares it with another,\n"
        f"`sandproof attest --profile {args.name}.toml` runs it."
    )
    text = profiletoml.dumps(dataclasses.replace(base, name=args.name), header)
    profiles.parse(text, args.name)  # what is written loads: a bug here is never a broken file
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    out = Path(args.out or f"{args.name}.toml")
    if out.exists():
        raise OutputError(f"{out}: exists; not overwritten (--out FILE writes elsewhere)")
    atomic.publish(out.parent if str(out.parent) else Path(), {out.name: text.encode()}, what="profile")
    print(f"wrote {out}", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from sandproof import profile as profiles
    from sandproof import profileimport, profiletoml
    from sandproof.report import visible

    argv, base_ref = list(args.argv), args.base
    while argv[:1] == ["--from"] and len(argv) > 1:  # given after "docker": argparse leaves it in the rest
        base_ref, argv = argv[1], argv[2:]
    argv = argv[1:] if argv[:1] == ["--"] else argv
    base = profiles.load(base_ref)
    result = profileimport.from_docker(argv, base, dict(os.environ))
    for line in result.dropped:
        print(f"sandproof: {visible(line)}", file=sys.stderr)
    if result.profile is None:
        print("sandproof: error: nothing usable to import", file=sys.stderr)
        return 2
    header = f"imported by `sandproof profile import docker` from a docker run command; the rest from {base.source}"
    sys.stdout.write(profiletoml.dumps(result.profile, header))
    return 0


def run_diff(args: argparse.Namespace) -> int:
    from sandproof import profile as profiles
    from sandproof import profiletoml
    from sandproof.report import visible

    a, b = profiles.load(args.a), profiles.load(args.b)
    lines = differences(profiletoml.data(a), profiletoml.data(b))
    for line in lines:
        print(visible(line))
    return 1 if lines else 0


def differences(a: dict[str, Any], b: dict[str, Any], table: str = "") -> list[str]:
    """One line per key whose value differs, under a ``[table]`` line, nested as the TOML is."""
    here: list[str] = []
    below: list[str] = []
    for key in [*a, *(k for k in b if k not in a)]:
        x, y = a.get(key), b.get(key)
        if x == y:
            continue
        if isinstance(x, dict) and isinstance(y, dict):
            below += differences(x, y, f"{table}.{key}" if table else key)
        elif isinstance(x, list) and isinstance(y, list) and all(isinstance(v, dict) for v in [*x, *y]):
            for i in range(max(len(x), len(y))):
                xi, yi = x[i] if i < len(x) else None, y[i] if i < len(y) else None
                if xi is None or yi is None:
                    here.append(f"  {key}[{i}]: {_shown(xi)} -> {_shown(yi)}")
                elif xi != yi:
                    here += [f"  {key}[{i}].{line.strip()}" for line in differences(xi, yi) if line.startswith("  ")]
        elif isinstance(x, list) and isinstance(y, list) and all(isinstance(v, str) for v in [*x, *y]):
            here.append(f"  {key}: {_items(x, y)}")
        else:
            here.append(f"  {key}: {_shown(x)} -> {_shown(y)}")
    head = [f"[{table}]"] if here and table else []
    return head + here + below


def _shown(v: Any) -> str:
    from sandproof.profiletoml import value

    return "(not set)" if v is None else value(v, wrap=False)


def _items(x: list[str], y: list[str]) -> str:
    """Two lists of names: both in full when short, else what the second adds and drops."""
    whole = f"{_shown(x)} -> {_shown(y)}"
    if len(whole) <= 100:
        return whole
    added, dropped = [v for v in y if v not in x], [v for v in x if v not in y]
    if not added and not dropped:
        return "the same items in another order"
    return "; ".join(f"{word} {', '.join(items)}" for word, items in (("adds", added), ("drops", dropped)) if items)
