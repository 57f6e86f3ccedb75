"""Regenerate ``src/sandproof/inspector/syscall_table.py``: the one syscall and architecture table.

The seccomp JSON is compiled by the runtime's libseccomp (runc 1.1 links it, and
silently skips a name it cannot resolve), so libseccomp's own table is the authority
for which names take effect. ``scmp_sys_resolver`` (Debian package ``seccomp``)
maps a number to a name, and a name to its number or to a negative pseudo-number
when the architecture lacks the call (libseccomp src/syscalls.h ``__PNR_*``); the
same answers are read here from the library itself (src/api.c
``seccomp_syscall_resolve_num_arch``/``_name_arch``, which call the resolver's own
``arch_syscall_resolve_num``/``_name``): asking the tool ~3,900 times took 8 s of the test
suite. Without the shared library, the tool answers.
The AUDIT_ARCH_* values (what a BPF filter reads in ``seccomp_data.arch``) are
evaluated from the kernel's own headers (include/uapi/linux/audit.h, elf-em.h).

    python scripts/gen_syscalls.py            # rewrite the table
    python scripts/gen_syscalls.py --check    # exit 1 if the committed table differs
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple


class Arch(NamedTuple):
    resolver: str
    """libseccomp's name for it (``scmp_sys_resolver -a``)."""
    scmp: str
    """The name in Docker/OCI seccomp JSON (``architectures``)."""
    audit: str
    """The AUDIT_ARCH_* macro of include/uapi/linux/audit.h."""


# the native 64-bit ABIs a profile may name, then the foreign ABI an x86_64 process can still
# enter (int 0x80): the harness tries it, so its numbers come from the same place
NATIVE = {
    "x86_64": Arch("x86_64", "SCMP_ARCH_X86_64", "AUDIT_ARCH_X86_64"),
    "aarch64": Arch("aarch64", "SCMP_ARCH_AARCH64", "AUDIT_ARCH_AARCH64"),
}
FOREIGN = {"i386": Arch("x86", "SCMP_ARCH_X86", "AUDIT_ARCH_I386")}
# x86_64's native numbers end well below 512 (x32 starts there); aarch64's near 460
HIGHEST = 1024
HEADERS = (Path("/usr/include/linux/audit.h"), Path("/usr/include/linux/elf-em.h"))
TARGET = Path(__file__).resolve().parent.parent / "src" / "sandproof" / "inspector" / "syscall_table.py"


def _library() -> ctypes.CDLL | None:
    found = ctypes.util.find_library("seccomp")
    if found is None:
        return None
    lib = ctypes.CDLL(found)
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_syscall_resolve_num_arch.argtypes = [ctypes.c_uint32, ctypes.c_int]
    lib.seccomp_syscall_resolve_num_arch.restype = ctypes.c_void_p  # strdup'ed: the caller frees it
    lib.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name_arch.restype = ctypes.c_int
    return lib


LIB = _library()
_free = ctypes.CDLL(None).free
_free.argtypes = [ctypes.c_void_p]


def resolve(arch: str, what: str) -> str:
    """What ``scmp_sys_resolver -a ARCH WHAT`` prints: a number's name (UNKNOWN for none), or a
    name's number."""
    if LIB is None:
        out = subprocess.run(["scmp_sys_resolver", "-a", arch, what], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    token = LIB.seccomp_arch_resolve_name(arch.encode())
    if token == 0:
        sys.exit(f"gen_syscalls: libseccomp knows no architecture {arch}")
    if what.isdigit():
        name = LIB.seccomp_syscall_resolve_num_arch(token, int(what))
        if not name:
            return "UNKNOWN"
        try:
            return ctypes.string_at(name).decode()
        finally:
            _free(name)
    return str(LIB.seccomp_syscall_resolve_name_arch(token, what.encode()))


def version() -> str:
    query = ["dpkg-query", "-W", "-f=${Version}", "libseccomp2"]
    out = subprocess.run(query, check=False, capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def table(arch: str, *, both_ways: bool = True) -> dict[str, int]:
    """Every number the architecture has, by name, checked both ways for a native ABI (on x86,
    libseccomp resolves a name like recvmmsg to its socketcall pseudo-number, though the kernel
    has had the direct call since 4.3: there only number -> name is asked)."""
    out: dict[str, int] = {}
    for nr in range(HIGHEST):
        name = resolve(arch, str(nr))
        if name in ("UNKNOWN", ""):
            continue
        if both_ways and int(resolve(arch, name)) != nr:
            sys.exit(f"gen_syscalls: {arch}: {name} resolves to {resolve(arch, name)}, not {nr}")
        out[name] = nr
    return out


def audit_arches() -> dict[str, int]:
    """AUDIT_ARCH_* as the headers define them: OR-ed EM_* and __AUDIT_ARCH_* macros."""
    defines: dict[str, str] = {}
    for header in HEADERS:
        for m in re.finditer(r"^#define\s+(\w+)\s+(.+?)\s*(?:/\*.*)?$", header.read_text(), re.MULTILINE):
            defines[m.group(1)] = m.group(2)

    def value(name: str) -> int:
        text = defines[name].strip("()")
        return sum({value(t.strip()) if t.strip() in defines else int(t, 0) for t in text.split("|")})

    return {key: value(a.audit) for key, a in {**NATIVE, **FOREIGN}.items()}


def _pairs(name: str, numbers: dict[str, int]) -> list[str]:
    pairs = [f"{n}:{nr}" for n, nr in sorted(numbers.items(), key=lambda kv: (kv[1], kv[0]))]
    lines, row = ["", f"{name}: dict[str, int] = _table("], list[str]()
    for pair in pairs:
        if row and len(" ".join([*row, pair])) > 100:
            lines.append(f'    "{" ".join(row)} "')
            row = []
        row.append(pair)
    return [*lines, f'    "{" ".join(row)}"', ")"]


def render(tables: dict[str, dict[str, int]], audit: dict[str, int]) -> str:
    arches = {**NATIVE, **FOREIGN}
    lines = [
        '"""The syscall and architecture table: numbers of the native 64-bit ABIs per architecture,',
        "the i386 ABI an x86_64 process can still enter, and each architecture's names in seccomp.",
        "",
        f"Generated by scripts/gen_syscalls.py from libseccomp {version()} (scmp_sys_resolver),",
        "the library runc compiles the seccomp JSON with, and from the kernel headers",
        "include/uapi/linux/audit.h and elf-em.h; do not edit. A name missing from an architecture's",
        "table does not exist there (libseccomp gives it a pseudo-number).",
        "",
        "NAME:NUMBER pairs in strings: the image runs the inspector without .pyc files, and",
        'Python compiles these several times faster than a dict display of ~700 entries."""',
        "",
        "ARCHES = (" + ", ".join(f'"{k}"' for k in NATIVE) + ")",
        '"""The native ABIs a profile may name (``seccomp.architectures``)."""',
        "AUDIT_ARCH = {" + ", ".join(f'"{k}": 0x{audit[k]:08X}' for k in arches) + "}",
        '"""``seccomp_data.arch`` of each ABI (AUDIT_ARCH_*)."""',
        "SCMP_ARCH = {" + ", ".join(f'"{k}": "{a.scmp}"' for k, a in arches.items()) + "}",
        "",
        "",
        "def _table(pairs: str) -> dict[str, int]:",
        '    return {name: int(nr) for name, _, nr in (p.partition(":") for p in pairs.split())}',
        "",
    ]
    for key, numbers in tables.items():
        lines += _pairs(key.upper(), numbers)
    return "\n".join(lines) + "\n"


def _tables(text: str) -> str:
    return text[text.index("\nARCHES") :]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--check", action="store_true", help="compare with the committed table instead of writing")
    args = ap.parse_args()
    if shutil.which("scmp_sys_resolver") is None:
        sys.exit("gen_syscalls: scmp_sys_resolver not found (apt-get install seccomp)")
    tables = {key: table(a.resolver) for key, a in NATIVE.items()}
    tables.update({key: table(a.resolver, both_ways=False) for key, a in FOREIGN.items()})
    text = render(tables, audit_arches())
    if args.check:  # the tables only: another build of the same libseccomp may differ in its version
        same = _tables(TARGET.read_text()) == _tables(text)
        print("gen_syscalls: table is current" if same else "gen_syscalls: table differs from libseccomp's")
        return 0 if same else 1
    TARGET.write_text(text)
    print(f"gen_syscalls: wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
