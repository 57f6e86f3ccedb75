"""The line between probing and judging: the read-only verifier imports the judges' registry,
``wire`` and ``catalog``, and with them no ctypes and no probing code."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from sandproof.inspector import judge
from sandproof.inspector.probes import PROBE_FUNCTIONS

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "sandproof" / "inspector"
PURE = ("__init__.py", "wire.py", "catalog.py", "judge.py", "syscalls.py", "syscall_table.py", "bpf.py")
"""The modules shared by both sides: data, the contract and the judges' registry."""
PROBING = ("probes", "harness", "isolate", "guard", "rawsys")

CHILD = """
import json, sys
import sandproof.inspector.judge, sandproof.inspector.wire, sandproof.inspector.catalog
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_the_judges_loads_no_ctypes_and_no_probe() -> None:
    # a fresh interpreter: this one has imported the harness for other tests
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert "ctypes" not in loaded
    assert "_ctypes" not in loaded
    inspector = {m.removeprefix("sandproof.inspector.") for m in loaded if m.startswith("sandproof.inspector.")}
    leaked = sorted(m for m in inspector if m.split(".")[0] in PROBING)
    assert not leaked, f"judging pulls in probing code: {leaked}"
    assert "judges.limits" in inspector  # the registry really loaded the concepts


def _imported(path: Path) -> list[str]:
    """Every module the file imports, nested imports included; the inspector's own as paths
    inside the package (``judges.common``, ``wire``), the rest as written."""
    here = path.relative_to(PACKAGE).parent.parts
    out: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            out.append(node.module or "")
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - (node.level - 1)]
            subjects = [node.module] if node.module else [a.name for a in node.names]
            out += ["inspector:" + ".".join([*base, s]) for s in subjects]
    return out


def test_judges_import_only_the_stdlib_and_pure_modules() -> None:
    """Statically too, so an import inside a function cannot cross the line unseen."""
    allowed = {p.removesuffix(".py") for p in PURE} | {"judges"}
    for path in [*(PACKAGE / "judges").glob("*.py"), *(PACKAGE / p for p in PURE)]:
        for name in _imported(path):
            if name.startswith("inspector:"):
                assert name.removeprefix("inspector:").split(".")[0] in allowed, f"{path.name} imports {name}"
            else:
                assert name.split(".")[0] in sys.stdlib_module_names - {"ctypes"}, f"{path.name} imports {name}"


def test_every_probe_kind_has_a_judge_and_every_judge_a_probe() -> None:
    # "static" is judged on the host's own scan (PR-DYNIMPORT), never probed inside
    assert set(PROBE_FUNCTIONS) == set(judge.JUDGES) - {"static"}
