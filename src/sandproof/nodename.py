"""The node part of a fleet's evidence file names (``attest --kind daemonset`` writes one
bundle per node): made from the node's name (untrusted text from the cluster), and read back
by ``verify`` of many bundles, which holds a file named for one node to that node's evidence."""

from __future__ import annotations

import hashlib
import re

_SAFE = re.compile(r"[^a-z0-9.-]+")
SAFE_MAX = 63
_NAMED = re.compile(r"sandbox-attestation-evidence-.*?-[0-9]{4}-[0-9]{2}-[0-9]{2}-node-([a-z0-9._-]{1,63})\.json\Z")


def safe_name(node: str) -> str:
    """A file-name part for a node name: lowercase letters, digits, dot and dash only; a name
    that had to change gets a digest of the original, so two nodes never share a file."""
    safe = _SAFE.sub("_", node.lower())
    safe = re.sub(r"_+", "_", re.sub(r"\.{2,}", "_", safe)).strip("._-")[:SAFE_MAX]
    if safe != node or not safe:
        safe = f"{safe[: SAFE_MAX - 9]}-{hashlib.sha256(node.encode(errors='surrogateescape')).hexdigest()[:8]}"
    return safe


def named_for(file_name: str) -> str | None:
    """The node part of a file named for a node (``evidence.file_name``), else None."""
    m = _NAMED.fullmatch(file_name)
    return m.group(1) if m else None
