"""PR-ROOTFS-1: the root filesystem is exactly the image as built, compared per top-level
entry (the walk's digests, ``inspector/tree.py``): each one extra, missing or different is named."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import ERROR, FAIL, PASS, UNVERIFIED, Judgement


def _digests(value: object) -> dict[str, tuple[int, str]] | None:
    """top -> (count, digest), or None when the shape is not that."""
    if not isinstance(value, dict):
        return None
    out = {}
    for name, pair in value.items():
        if not (isinstance(name, str) and isinstance(pair, list) and len(pair) == 2):
            return None
        count, digest = pair
        if not (isinstance(count, int) and not isinstance(count, bool) and count >= 0 and isinstance(digest, str)):
            return None
        out[name] = (count, digest)
    return out


def _shown(name: str) -> str:
    return name if name == "/" else f"/{name}"


def _entries(n: int) -> str:
    return f"{n} entr{'y' if n == 1 else 'ies'}"


def _differences(want: dict[str, tuple[int, str]], got: dict[str, tuple[int, str]]) -> list[str]:
    problems = [f"extra {_shown(n)} ({_entries(got[n][0])})" for n in sorted(set(got) - set(want))]
    problems += [f"missing {_shown(n)} ({_entries(want[n][0])})" for n in sorted(set(want) - set(got))]
    problems += [
        f"{_shown(n)} differs ({_entries(got[n][0])}, the image has {want[n][0]})"
        for n in sorted(set(want) & set(got))
        if got[n] != want[n]
    ]
    return problems


def rootfs(expect: Mapping[str, Any], obs: Mapping[str, Any], unseen: Judgement | None) -> Judgement:
    """``unseen``: the walk judge's verdict on where it could not look (None: as the layout's)."""
    if isinstance(expect.get("unverified"), str):
        return Judgement(UNVERIFIED, expect["unverified"])
    want, got = _digests(expect.get("digests")), _digests(obs.get("rootfs"))
    if want is None or got is None or not isinstance(obs.get("complete"), bool):
        what = "the plan holds no digests of the image's tree" if want is None else "no digests recorded"
        return Judgement(ERROR, what)
    if problems := _differences(want, got):
        return Judgement(FAIL, "root filesystem is not the image: " + "; ".join(problems))
    if unseen is not None:
        return unseen
    if not obs["complete"]:
        return Judgement(UNVERIFIED, f"the walk stopped after {obs.get('scanned')} entries")
    total = sum(c for c, _ in got.values())
    return Judgement(PASS, f"{total} entries in {len(got)} top-level entries, each exactly the image's{unlisted(obs)}")


def unlisted(obs: Mapping[str, Any]) -> str:
    """What a PASS did not see: the directories the sandbox's user cannot list (the image's
    layout has them so: what is in them is neither compared nor walked)."""
    hidden = obs.get("unreadable")
    if not isinstance(hidden, list) or not hidden:
        return ""
    return f" (not listable by the sandbox's user, so unseen inside: {', '.join(map(str, sorted(hidden)[:5]))})"
