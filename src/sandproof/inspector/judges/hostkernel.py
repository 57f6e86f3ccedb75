"""The host's kernel as the sandbox meets it: every host-wide setting the plan names, read from
inside, within the profile's allowed set (a list of values, or a minimum), /proc/kallsyms
showing no kernel address, and kernel.core_pattern a file pattern or a pipe to a known handler.
A setting missing, unreadable, not an integer or outside its set is FAIL, named; one read but
not planned too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import ERROR, FAIL, PASS, UNVERIFIED, Judge, Judgement, obj, strict_int


def _allowed(spec: Mapping[str, Any]) -> tuple[str, Any]:
    if "in" in spec and isinstance(spec["in"], list) and spec["in"]:
        return "in", [strict_int(v) for v in spec["in"]]
    if "min" in spec:
        return "min", strict_int(spec["min"])
    raise ValueError(f"an allowed set without 'in' or 'min': {str(spec)[:80]}")


def _knob(name: str, text: object, spec: Mapping[str, Any]) -> str | None:
    """What is wrong with one setting, or None."""
    how, allowed = _allowed(spec)
    if text is None:
        return f"{name} is missing or unreadable"
    try:
        value = strict_int(text)
    except ValueError:
        return f"{name} is {str(text)[:40]!r}, not an integer"
    if how == "in" and value not in allowed:
        return f"{name} is {value}, allowed {allowed}"
    if how == "min" and value < allowed:
        return f"{name} is {value}, allowed {allowed} or more"
    return None


def _kallsyms(want: object, got: Mapping[str, Any]) -> tuple[str | None, str]:
    """(what is wrong, what was shown)."""
    if want == "absent":
        if got.get("errno") == "ENOENT":
            return None, "no /proc/kallsyms"
        return "/proc/kallsyms exists, expected none", ""
    if want != "hidden":
        raise ValueError(f"no kallsyms expectation {str(want)[:40]!r}")
    if "errno" in got:
        return f"/proc/kallsyms could not be read ({str(got['errno'])[:40]}): its addresses not shown hidden", ""
    lines, nonzero, malformed = (strict_int(got.get(k)) for k in ("lines", "nonzero", "malformed"))
    if lines <= 0 or malformed:
        return f"/proc/kallsyms shows {lines} lines, {malformed} without an address: not the kernel's table", ""
    if nonzero:
        return f"/proc/kallsyms shows {nonzero} of {lines} kernel addresses (not 0): KASLR defeated from inside", ""
    return None, f"/proc/kallsyms: {lines} addresses, each 0"


def _core(want: object, text: object) -> tuple[str | None, str]:
    """(what is wrong, what was shown) of kernel.core_pattern: a file pattern, or a pipe to one
    of ``want``'s helpers (runtime_defaults.HOST_CORE_HELPERS)."""
    helpers = obj(want).get("helpers")
    if not isinstance(helpers, list):
        raise ValueError("no allowed core dump helpers planned")
    if not isinstance(text, str):
        return "kernel.core_pattern is missing or unreadable", ""
    if not text.startswith("|"):
        return None, f"core dumps to files ({text[:60]!r})"
    words = text[1:].split()
    helper = words[0] if words else ""
    if helper not in helpers:
        return (
            f"kernel.core_pattern pipes every crash, in any sandbox, to {helper[:80]!r}, run as root on the host"
            f" (allowed: a file pattern, or {', '.join(map(str, helpers))})",
            "",
        )
    return None, f"core dumps piped to {helper} (a distribution's handler, run as root on the host)"


def _core_part(
    expect: Mapping[str, Any],
    obs: Mapping[str, Any],
    unshown: set[str],
    *,
    wrong: list[str],
    hidden: list[str],
    said: str,
) -> str:
    """kernel.core_pattern's part: its problem added to ``wrong``, or its name to ``hidden``
    where the runtime cannot show it; ``said`` with what it showed."""
    if "core_pattern" not in expect:  # a plan before it was planned has none
        return said
    if obs.get("core_pattern") is None and "kernel.core_pattern" in unshown:
        hidden.append("kernel.core_pattern")
        return said
    problem, core = _core(expect["core_pattern"], obs.get("core_pattern"))
    if problem:
        wrong.append(problem)
    return f"{said}; {core}" if core else said


def _hostk(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    got, allowed = obs.get("values"), expect["allowed"]
    if not isinstance(got, dict) or not isinstance(allowed, dict) or not allowed:
        return Judgement(ERROR, "no host kernel settings recorded")
    unshown = set(expect.get("unshown", []))
    wrong = [f"{name} read but not planned" for name in sorted(set(got) - set(allowed))]
    hidden, shown = [], []
    for name, spec in sorted(allowed.items()):
        if name not in got:
            return Judgement(ERROR, f"{name} not read")
        if got[name] is None and name in unshown:
            hidden.append(name)
            continue
        problem = _knob(name, got[name], obj(spec))
        if problem:
            wrong.append(problem)
        else:
            shown.append(f"{name.rpartition('.')[2]} {got[name]}")
    kallsyms = obs.get("kallsyms")
    if not isinstance(kallsyms, dict):
        return Judgement(ERROR, "no /proc/kallsyms observation recorded")
    problem, said = _kallsyms(expect["kallsyms"], kallsyms)
    if problem:
        wrong.append(problem)
    said = _core_part(expect, obs, unshown, wrong=wrong, hidden=hidden, said=said)
    if wrong:
        return Judgement(FAIL, "host kernel: " + "; ".join(wrong))
    text = f"host kernel: {', '.join(shown)}; {said}"
    if hidden:
        why = str(expect.get("unshown_why", ""))[:200]
        return Judgement(UNVERIFIED, f"{text}; not shown inside: {', '.join(hidden)} ({why})")
    return Judgement(PASS, text)


JUDGES: dict[str, Judge] = {"hostk": _hostk}
