"""Line numbers for findings: a dotted key in a profile's TOML text (tomllib keeps none)."""

from __future__ import annotations

import re

_HEADER = re.compile(r"\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?")


def _table(header: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in header.split("."))


def toml_line(text: str, key: str, token: str | None = None) -> int:
    """The line of ``key`` (``seccomp.rules``) in its table, or of ``token`` in the key's value
    (``"execve"`` in a multi-line array); the table's header when the key is absent (a
    default); 1 when neither is written."""
    table, _, name = key.rpartition(".")
    current = ""
    table_line = found = 0
    word = re.compile(rf"(?<![\w-]){re.escape(token)}(?![\w-])") if token else None
    assign = re.compile(rf"\s*(?:{re.escape(name)}|\"{re.escape(name)}\")\s*=")
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.fullmatch(line)
        if header:
            if found:  # the key's value ended with its table
                break
            current = _table(header[1])
            if current == table and not table_line:
                table_line = number
            continue
        if not found and current == table and assign.match(line):
            found = number
        if found and (word is None or word.search(line.split("#", 1)[0])):
            return number
    return found or table_line or 1
