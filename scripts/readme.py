"""Print README's generated parts into README.md: the probe catalog, the example output (a
recorded real run), and the mutation suite run for real on every runtime with its score.

    .venv/bin/python scripts/readme.py            # all (runs the suite on Docker, runc, gVisor and Podman)
    .venv/bin/python scripts/readme.py --runtimes docker runc   # the suite on those runtimes only
    .venv/bin/python scripts/readme.py --probes   # the probe table, the example and the harness figures only
    .venv/bin/python scripts/readme.py --speed [FILE]   # the speed table only, from FILE (benchmarks/speed.json)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sandproof import docs, profile, selftest

README = Path(__file__).resolve().parent.parent / "README.md"
SUITE_RUNTIMES = ("docker", "runc", "runsc", "podman")
"""Every runtime the mutation suite runs on here (Kubernetes has no cluster here: its stand-in is runc)."""


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = ap.add_mutually_exclusive_group()
    what.add_argument("--probes", action="store_true", help="the probe table, the example and the harness figures only")
    what.add_argument(
        "--speed",
        nargs="?",
        const=docs.SPEED_RECORD,
        type=Path,
        metavar="FILE",
        help=f"the speed table only, from FILE (default {docs.SPEED_RECORD}; benchmarks/attest_vs_bare.py --json)",
    )
    what.add_argument("--runtimes", nargs="+", choices=SUITE_RUNTIMES, help="run the mutation suite on these only")
    args = ap.parse_args(argv)
    text = README.read_text()
    if args.speed is not None:  # written by benchmarks/attest_vs_bare.py --json on a quiet machine
        run = json.loads((README.parent / args.speed).read_bytes())
        README.write_text(docs.splice(text, docs.SPEED_BEGIN, docs.SPEED_END, docs.speed_table(run)))
        return 0
    text = docs.splice(text, docs.PROBES_BEGIN, docs.PROBES_END, docs.probe_table())
    example = (README.parent / docs.EXAMPLE_BUNDLE).read_bytes()
    text = docs.splice(text, docs.EXAMPLE_BEGIN, docs.EXAMPLE_END, docs.example_output(example))
    recorded = {engine: (README.parent / path).read_bytes() for engine, path in docs.RECORDED.items()}
    text = docs.splice(text, docs.HARNESS_BEGIN, docs.HARNESS_END, docs.harness_figures(recorded))
    if not args.probes:
        default = profile.load("default")
        runtimes = args.runtimes or list(SUITE_RUNTIMES)
        results = {rt: selftest.run(default, rt, progress=lambda m: print(m, file=sys.stderr)) for rt in runtimes}
        text = docs.splice(text, docs.SCORE_BEGIN, docs.SCORE_END, docs.score_table(results))
    README.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
