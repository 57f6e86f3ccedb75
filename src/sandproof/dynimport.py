"""PR-DYNIMPORT (#35): a static check that the inspector loads no code dynamically.

The seed flags it as a build-time L2 check. The inspector runs inside the sandbox
with the evidence depending on it, so it must not be able to pull in code that was not
reviewed and hashed: no ``__import__``, ``importlib``, ``exec``, ``eval``, ``compile``,
``runpy``, ``marshal``/``pickle`` loading, and no shared library loaded by a name
computed at run time.
"""

from __future__ import annotations

import ast
import contextlib
import json
from typing import Any

from sandproof import atomic, image
from sandproof.errors import Error
from sandproof.inspector import wire

FORBIDDEN_CALLS = frozenset({"__import__", "exec", "eval", "compile", "execfile", "reload"})
FORBIDDEN_MODULES = frozenset({"importlib", "imp", "runpy", "marshal", "pickle", "zipimport", "code", "codeop"})
LIBRARY_LOADERS = frozenset({"CDLL", "PyDLL", "LoadLibrary", "dlopen"})


def scan_source(name: str, text: str) -> list[str]:
    """Return one finding per dynamic-loading site: ``file:line: what``."""
    findings: list[str] = []
    for node in ast.walk(ast.parse(text, filename=name)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            findings += [f"{name}:{node.lineno}: imports {m}" for m in mods if m.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.Call):
            fn = node.func
            called = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else ""
            if called in FORBIDDEN_CALLS:
                findings.append(f"{name}:{node.lineno}: calls {called}()")
            elif called in LIBRARY_LOADERS and not (
                node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            ):
                findings.append(f"{name}:{node.lineno}: loads a library by a computed name via {called}()")
        elif isinstance(node, ast.Name) and node.id == "__builtins__":
            findings.append(f"{name}:{node.lineno}: reaches into __builtins__")
    return findings


def _findings(files: dict[str, bytes]) -> list[str]:
    """Parsing every file costs ~100 ms a process, so the findings are kept per content hash
    in the cache beside the image layers (the same user's); a cache that cannot be read or
    written is simply not used."""
    kept = image.cache_dir() / "dynimport" / f"{wire.files_sha256(files)}.json"
    try:
        cached = json.loads(kept.read_text())["findings"]
        if isinstance(cached, list) and all(isinstance(f, str) for f in cached):
            return cached
    except (OSError, ValueError, KeyError, TypeError):
        pass
    found = [f for rel, data in sorted(files.items()) for f in scan_source(rel, data.decode("utf-8"))]
    with contextlib.suppress(OSError, Error):
        atomic.publish(kept.parent, {kept.name: json.dumps({"findings": found}).encode()}, what="cache")
    return found


def scan() -> dict[str, Any]:
    """Scan the inspector exactly as shipped into the image; the observation for PR-DYNIMPORT."""
    files = image.inspector_files()
    package = {rel.removeprefix("inspector/"): data for rel, data in files.items() if rel.startswith("inspector/")}
    return {"files": len(files), "findings": _findings(files), "inspector_sha256": wire.files_sha256(package)}
