"""``sandproof cache``: what the cache holds that grows with use, and ``prune`` to remove what
no run used for a while (``cachestore``)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from sandproof import contract

DEFAULT_DAYS = 30


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if not 0 <= days <= 36500:
        raise argparse.ArgumentTypeError(f"{text!r}: expected 0 to 36500 days")
    return days


def register(sub: Any) -> None:
    ap: argparse.ArgumentParser = sub.add_parser(
        "cache",
        help="show or prune what the cache keeps per image and inspector",
        description="The cache keeps an unpacked tree per image runc or runsc ran, a harness tree per "
        "inspector version mounted into users' images, and a `docker save` copy per user's image: "
        "~40 MB each, never reused once what made them is gone. Without an action: each area's "
        "entries, size and last use. The packages and layers an offline build needs are never pruned.",
        epilog=contract.CACHE_HELP,
    )
    csub = ap.add_subparsers(dest="action", metavar="ACTION")
    prune = csub.add_parser(
        "prune",
        help="remove entries no run used for a while",
        description="Remove the entries no run used for --older-than days (a run that needs one again "
        "rebuilds it), never one a run holds now nor one used in the last hour; and what an interrupted "
        "build or save left, once a day old. The cache's path must be root's or yours all the way.",
    )
    prune.add_argument(
        "--older-than",
        type=_days,
        default=DEFAULT_DAYS,
        metavar="DAYS",
        help=f"unused for at least this many days (default {DEFAULT_DAYS}; 0: every entry no run holds "
        "and none used in the last hour)",
    )
    prune.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    ap.set_defaults(func=run)


def _mb(size: int) -> str:
    return f"{size / 1e6:,.0f} MB"


def run(args: argparse.Namespace) -> int:
    from sandproof import cachestore, image

    if args.action == "prune":
        done = cachestore.prune(args.older_than * 86400, dry_run=args.dry_run)
        verb = "would remove" if args.dry_run else "removed"
        freed = sum(e.size for e in done.removed)
        print(f"{verb} {len(done.removed)} entries ({_mb(freed)}) unused for {args.older_than:g} days or more")
        for e in done.removed:
            print(f"  {e.area}/{e.name}  {_mb(e.size)}")
        if done.in_use:
            print(f"kept {len(done.in_use)} a run holds now: " + ", ".join(e.name for e in done.in_use))
        print(f"kept {len(done.kept)} used more recently (nothing used in the last hour is removed)")
        if done.building:
            print(f"kept {len(done.building)} less than a day old that a build under way may own: ", end="")
            print(", ".join(f"{e.area}/{e.name}" for e in done.building))
        return 0
    now = time.time()
    found = cachestore.entries()
    print(f"cache: {image.cache_path()}")  # listed, never made
    print(f"{'AREA':8} {'ENTRIES':>7} {'SIZE':>10}  {'DAYS SINCE USED':>15}  WHAT")
    for area, (_, what) in cachestore.AREAS.items():
        mine = [e for e in found if e.area == area]
        ages = sorted(round((now - e.used) / 86400) for e in mine)
        span = "-" if not ages else f"{ages[0]}" if ages[0] == ages[-1] else f"{ages[0]}-{ages[-1]}"
        print(f"{area:8} {len(mine):>7} {_mb(sum(e.size for e in mine)):>10}  {span:>15}  {what}")
    total = _mb(sum(e.size for e in found))
    print(f"total {total}; `sandproof cache prune` removes what no run used for {DEFAULT_DAYS} days")
    return 0
