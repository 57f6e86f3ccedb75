"""Weakenings of the host's kernel itself: a host-wide (non-namespaced) setting every sandbox on
the machine shares, which no runtime, config or engine view states. Each is written to
``/proc/sys`` for one run and always put back (``try``/``finally``, Ctrl-C included; a journal
the next lock holder replays should this process be killed), under ``hostlock.exclusive``:
every other run on the host waits meanwhile, since the setting weakens its sandbox too."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from sandproof import hostlock
from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import Weakening

# a helper no distribution ships, that drops every core: the host's own crashes lose theirs while
# it is set (one run, under the exclusive host lock)
CORE_PIPE = "|/bin/false %p"

# every runtime whose sandbox runs on the host kernel (not gVisor: its sentry serves /proc/sys)
HOST_RUNTIMES = ("docker", "runc", "podman")


def _file(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def host_sysctl(name: str, value: str) -> Callable[[str], contextlib.AbstractContextManager[Mutation]]:
    """A setup that writes ``value`` to the host's ``name`` for the run, and puts the old one back."""

    @contextlib.contextmanager
    def setup(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - the same on every runtime
        file = _file(name)
        with hostlock.exclusive():
            old = file.read_text()
            hostlock.remember(file, old)
            try:
                file.write_text(value)
                yield Mutation()
            finally:
                file.write_text(old)
                hostlock.forget(file)

    return setup


def _unchangeable(name: str, value: str) -> Callable[[str], str | None]:
    def why(runtime: str) -> str | None:  # noqa: ARG001
        try:
            now = _file(name).read_text().strip()
        except OSError as exc:
            return f"{name} cannot be read here ({exc.strerror})"
        return f"{name} is already {value} on this host" if now == value else None

    return why


def _host(name: str, sysctl: str, value: str, probe: str, note: str) -> Weakening:
    return Weakening(
        name,
        probe,
        note,
        setup=host_sysctl(sysctl, value),
        runtimes=HOST_RUNTIMES,
        no_effect=_unchangeable(sysctl, value),
        host_wide=True,
    )


WEAKENINGS: tuple[Weakening, ...] = (
    _host(
        "aslr-off-host",
        "kernel.randomize_va_space",
        "0",
        "PR-HOSTK-1",
        "the host's kernel.randomize_va_space 0: no address space randomization in any sandbox",
    ),
    _host(
        "perf-paranoid-host",
        "kernel.perf_event_paranoid",
        "1",
        "PR-HOSTK-1",
        "the host's kernel.perf_event_paranoid 1: kernel profiling for any user, and (kptr_restrict 0)"
        " real kernel addresses in /proc/kallsyms",
    ),
    _host(
        "core-pipe-host",
        "kernel.core_pattern",
        CORE_PIPE,
        "PR-HOSTK-1",
        "the host's kernel.core_pattern a pipe to a helper of its own: run as root on the host for every crash"
        " in any sandbox, fed its memory",
    ),
)
