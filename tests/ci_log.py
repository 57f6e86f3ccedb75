"""How GitHub's runner reads a step's output (actions/runner src/Runner.Common/ActionCommand.cs)."""

from __future__ import annotations

import re


def runner_commands(out: str) -> list[str]:
    """The lines the runner would run as workflow commands: ``::cmd::`` after leading white
    space (TryParseV2, after TrimStart), ``##[cmd]`` anywhere in a line (TryParse)."""
    found = []
    for line in re.split(r"\r\n|\r|\n", out):
        v2 = line.lstrip()
        if (v2.startswith("::") and "::" in v2[2:]) or re.search(r"##\[[^\]]*\]", line):
            found.append(line)
    return found
