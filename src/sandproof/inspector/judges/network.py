"""Network: no route out (connect), no socket at all, no interface beyond the allowed ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import ERROR, FAIL, PASS, UNVERIFIED, Judge, Judgement, errno_in


def parse_net_dev(text: str) -> list[str]:
    return [ln.split(":")[0].strip() for ln in text.splitlines()[2:] if ":" in ln]


def _ifaces(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    raw, allowed = obs.get("proc_net_dev"), expect.get("interfaces_subset")
    if not isinstance(raw, str) or not isinstance(allowed, list):
        return Judgement(ERROR, "no /proc/net/dev text recorded")
    names = parse_net_dev(raw)
    extra = sorted(set(names) - set(allowed))
    if not names:
        return Judgement(ERROR, "/proc/net/dev lists no interface at all")
    if extra:
        return Judgement(FAIL, f"interfaces beyond {allowed}: {extra}")
    if "sockets" in expect:
        return _sockets(expect, obs, sorted(set(names)))
    return Judgement(PASS, f"interfaces {sorted(set(names))}")


def _sockets(expect: Mapping[str, Any], obs: Mapping[str, Any], names: list[str]) -> Judgement:
    """The namespace's sockets against exactly the allowed ones (none: the harness holds none
    when it reads them). One of another process means a namespace shared with it, which its
    interfaces alone do not show (a peer's listener on 127.0.0.1). A table the kernel lacks
    (no UDP-Lite) holds no socket; in a table every line under the header is one socket
    (net/ipv4/ping.c ping_v4_seq_show and the like), in sockstat each protocol's "inuse"."""
    tables = obs.get("sockets")
    if tables is None and "sockets" not in obs:  # a seed v1 bundle records none: not shown either way
        return Judgement(UNVERIFIED, f"interfaces {names}; the sockets of the namespace were not recorded")
    if not isinstance(tables, dict) or sorted(tables) != sorted(expect["socket_tables"]):
        return Judgement(ERROR, "no socket tables recorded")
    unread = [n for n in expect.get("required", []) if tables.get(n) is None]
    if unread:
        return Judgement(ERROR, f"/proc/net/{unread[0]} not read")
    try:
        held = [s for name, text in sorted(tables.items()) if text is not None for s in _held(name, text)]
    except ValueError as exc:
        return Judgement(ERROR, str(exc))
    extra = sorted(set(held) - set(expect["sockets"]))
    if extra:
        return Judgement(FAIL, f"sockets the sandbox did not make in its network namespace: {extra[:4]}")
    return Judgement(PASS, f"interfaces {names}; no socket in the namespace")


# Every socket table the kernel prints starts with its header line, even when it lists no
# socket: "  sl  local_address ..." for the IP tables (net/ipv4/tcp_ipv4.c tcp4_seq_show,
# udp.c udp4_seq_show, raw.c, ping.c; net/ipv6 likewise), "sk RefCnt ..." for packet
# (net/packet/af_packet.c packet_seq_show), "Num RefCount ..." for unix (net/unix/af_unix.c).
HEADERS = {"packet": ("sk", "RefCnt"), "unix": ("Num", "RefCount")}
IP_HEADER = ("sl", "local_address")
# sockstat prints every protocol's line whatever is in use (net/ipv4/proc.c sockstat_seq_show,
# net/ipv6/proc.c sockstat6_seq_show); these are the ones every kernel (and gVisor) has
SOCKSTAT_LINES = {"sockstat": ("TCP", "UDP", "RAW"), "sockstat6": ("TCP6", "UDP6", "RAW6")}


def _unlike_kernel(name: str, text: str) -> str | None:
    """Why a table's text is not what the kernel prints for it (an emptied table is not an
    empty one), or None."""
    if name in SOCKSTAT_LINES:
        shown = {line.partition(":")[0] for line in text.splitlines() if " inuse " in f"{line} "}
        lacking = [p for p in SOCKSTAT_LINES[name] if p not in shown]
        return f"has no {lacking[0]} inuse line (the kernel prints one always)" if lacking else None
    first = text.split("\n", 1)[0].split()
    want = HEADERS.get(name, IP_HEADER)
    if first[: len(want)] != list(want):
        return f"does not start with the kernel's header ({' '.join(want)} ...): {text[:60]!r}"
    return None


def _held(name: str, text: object) -> list[str]:
    if not isinstance(text, str):
        raise ValueError(f"/proc/net/{name} recorded in an unknown shape")
    if (unlike := _unlike_kernel(name, text)) is not None:
        raise ValueError(f"/proc/net/{name} {unlike}")
    try:
        return _in_use(text) if name.startswith("sockstat") else _rows(name, text)
    except ValueError as exc:
        raise ValueError(f"/proc/net/{name}: {exc}") from None


def _rows(name: str, text: str) -> list[str]:
    return [f"{name}: {' '.join(line.split()[1:4])}" for line in text.splitlines()[1:] if line.strip()]


def _in_use(text: str) -> list[str]:
    """Each protocol line's sockets in use ("TCP: inuse 1 orphan 0 ..."); the other counters
    (alloc, mem, orphan) are the host's, not the namespace's (net/ipv4/proc.c)."""
    out = []
    for line in text.splitlines():
        proto, _, rest = line.partition(":")
        words = rest.split()
        if "inuse" not in words:
            continue
        count = words[words.index("inuse") + 1] if words.index("inuse") + 1 < len(words) else ""
        if not count.isdigit():
            raise ValueError(f"{proto} inuse {count!r} is not a count")
        if count != "0":
            out.append(f"{proto} inuse {count}")
    return out


STAGES = {"error": ("socket", "connect"), "timed-out": ("connect",), "connected": ("connect",)}
"""Where each outcome of the connection can happen (probes/network.py connect): a refused
socket() never reached connect(); a timeout or a connection only comes from connect()."""


def _connect(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    stage, outcome = obs.get("stage"), obs.get("outcome")
    # the seed's v1 records (verify rebuilds them from an errno) hold no stage at all
    if "stage" in obs and isinstance(outcome, str) and stage not in STAGES.get(outcome, ()):
        return Judgement(ERROR, f"contradictory observation: outcome {outcome!r} at stage {str(stage)[:40]!r}")
    return errno_in(expect, obs)


JUDGES: dict[str, Judge] = {
    "connect": _connect,
    "socket": errno_in,
    "ifaces": _ifaces,
}
