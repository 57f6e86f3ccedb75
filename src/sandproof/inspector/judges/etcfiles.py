"""The runtime's own files, as an allow-list of lines: each file the plan names must hold
exactly the lines the runtime writes by itself for this profile (or be absent where the
runtime writes none), in order. A line more (a host's name or nameserver, an --add-host, a
--dns-search) or a line missing FAILs, naming it.

An expectation per path (the plan's ``files``): ``None``, the file must not exist; a string,
the file's whole text, where ``<hostname>`` stands for the hostname the probe recorded (only
the inside knows it) and ``<name>`` for a container name the plan's ``name`` pattern allows;
``{"unplanned": why}``, content the plan cannot know (the host's own, under the host's
network; a user's image's): its size is said, nothing compared."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .common import ERROR, FAIL, PASS, Judge, Judgement

_TOKEN = r"<hostname>|<name>"


def _pattern(text: str, hostname: str, name: str) -> str:
    """An expected text as a regex: literal but for its tokens."""
    parts, pos = [], 0
    for m in re.finditer(_TOKEN, text):
        parts += [re.escape(text[pos : m.start()]), re.escape(hostname) if m[0] == "<hostname>" else f"(?:{name})"]
        pos = m.end()
    return "".join([*parts, re.escape(text[pos:])])


def _lines(text: str) -> list[str]:
    """A text's lines, the last one marked when no newline ends it ("a" and "a\\n" differ)."""
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else [*lines[:-1], lines[-1] + " (no newline at the end)"]


KINDS = frozenset({"absent", "error", "file", "link", "dir", "fifo", "socket", "device"})
"""Every type the probe records (probes/etcfiles.py); any other is a malformed observation."""


def _compare(path: str, want: str, got: str, hostname: str, name: str) -> str | None:
    if re.fullmatch(_pattern(want, hostname, name), got):
        return None
    pending = [(line, _pattern(line, hostname, name)) for line in _lines(want)]
    extra = []
    for line in _lines(got):
        hit = next((i for i, (_, pat) in enumerate(pending) if re.fullmatch(pat, line)), None)
        if hit is None:
            extra.append(line)
        else:
            del pending[hit]
    missing = [line for line, _ in pending]
    said = []
    if extra:
        said.append("lines the runtime does not write: " + ", ".join(map(ascii, extra[:6])))
    if missing:
        said.append("lines missing: " + ", ".join(map(ascii, missing[:6])))
    return f"{path}: " + ("; ".join(said) if said else "the runtime's lines in another order")


def _not_read(path: str, spec: Any, kind: str, err: object) -> tuple[str | None, str]:
    """A path the probe found absent, or no regular file, or could not read."""
    if kind == "absent" and (spec is None or isinstance(spec, dict)):
        return None, f"{path} absent" + (f" ({spec['unplanned']})" if spec else "")
    if spec is None:
        return f"{path} exists ({kind}), the runtime writes none", ""
    why = f" {ascii(err)[:80]}" if kind == "error" else ""
    return f"{path} is not a readable regular file ({kind}{why})", ""


def _file(path: str, spec: Any, entry: Any, hostname: str, name: str) -> tuple[str | None, str]:
    """(a failure or None, what was shown)."""
    if not isinstance(entry, dict) or entry.get("type") not in KINDS:
        raise ValueError(f"{path}: no type the probe records")
    if isinstance(spec, dict) and not isinstance(spec.get("unplanned"), str):
        raise ValueError(f"{path}: a malformed expectation")
    if entry["type"] != "file" or spec is None:
        return _not_read(path, spec, entry["type"], entry.get("errno"))
    text, cut = entry.get("text"), entry.get("cut")
    if not isinstance(text, str) or not isinstance(cut, bool):
        raise ValueError(f"{path}: no text recorded")
    if isinstance(spec, dict):  # not planned: said, not compared
        return None, f"{path}: {len(text)} characters, {spec['unplanned']}"
    if not isinstance(spec, str):
        raise ValueError(f"{path}: a malformed expectation")
    if cut:
        return f"{path} is longer than the probe reads ({len(text)} characters and more)", ""
    lines = len(_lines(spec))
    return _compare(path, spec, text, hostname, name), f"{path}: {lines} line{'s' * (lines != 1)}"


def _etcfiles(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    files, hostname, specs = obs.get("files"), obs.get("hostname"), expect.get("files")
    if not isinstance(files, dict) or not isinstance(hostname, str) or not isinstance(specs, dict):
        return Judgement(ERROR, "no runtime files recorded")
    if sorted(files) != sorted(specs):
        return Judgement(ERROR, f"files read {sorted(map(str, files))[:6]}, planned {sorted(specs)}")
    if not hostname or "\n" in hostname:  # it stands for a token in the expected lines
        return Judgement(ERROR, f"no usable hostname recorded: {hostname!r}")
    problems, shown = [], []
    for path, spec in sorted(specs.items()):
        failure, said = _file(path, spec, files[path], hostname, str(expect.get("name", "")))
        if failure:
            problems.append(failure)
        else:
            shown.append(said)
    if problems:
        return Judgement(FAIL, "; ".join(problems))
    return Judgement(PASS, "exactly the runtime's own: " + "; ".join(shown))


JUDGES: dict[str, Judge] = {"etcfiles": _etcfiles}
