"""Names other tools and the CLI depend on, in one leaf module (stdlib only, imports nothing
of sandproof), so ``sandproof --help`` builds its parser without loading the engine code."""

from __future__ import annotations

import datetime as dt
import re

SHIPPED_PROFILES = ("default", "b4-prime-seed", "learned-example")
SHIPPED_MATRICES = ("sandproof", "b4-prime-rev4")
SCHEMA_FILES = {
    "sandproof/evidence/v1": "evidence-v1.json",
    "sandproof/inside/v1": "inside-v1.json",
    "b4-prime-sandbox-attestation/inside/v1": "b4-prime-inside-v1.json",
}
"""A bundle's ``schema`` field -> the shipped JSON Schema file."""
RECEIPT_SCHEMA = "sandproof/receipt/v1"
RECEIPT_SCHEMA_FILE = "receipt-v1.json"
"""``sandproof run``'s receipt: not a bundle (the verifier's model never reads it), so apart."""
RECEIPT_HEAD = b'{\n  "schema": "sandproof/receipt/v1"'
RECEIPT_SNIFF_BYTES = 64
"""A receipt as ``receipt.write`` lays it out starts with these bytes: ``verify`` tells one by them."""
SCHEMA_NAMES = {name.removesuffix(".json"): name for name in (*SCHEMA_FILES.values(), RECEIPT_SCHEMA_FILE)}
"""``sandproof schema NAME`` -> the shipped file."""
SIGN_CHOICES = ("none", "github")
VENUES = ("any", "ci", "vps")
RUN_TIMEOUT_S = 120
"""attest's default --timeout: the container is killed and removed after this long."""
BUNDLE_MAX_BYTES = 16 << 20
"""The largest bundle read (``bundle.MAX_BYTES``); here so the runtimes size their capture of
the sandbox's stdout without importing the reader (msgspec, fastjsonschema) before the run."""
RUNTIME_CHOICES = ("auto", "docker", "runc", "runsc", "podman", "kubernetes")
INPUT_PACKET = ("packet.json", b'{"packet": "attestation-fixture"}\n')
"""What attest puts in the input directory beside the plan (seed §2: a packet is enough for
the boundary probes); PR-IN-1 checks /in holds exactly these two files."""
EVIDENCE_SCHEMA = "sandproof/evidence/v1"
"""The merged evidence bundle's ``schema`` (``evidence.py`` writes it)."""
SEED_INSIDE_SCHEMA = "b4-prime-sandbox-attestation/inside/v1"
"""The seed draft's inside bundle, which the verifier still reads."""
STATIC_EXPECT: dict[str, object] = {"findings": []}
STATIC_LAYER = "image (build-time static check)"
STATIC_ARTIFACT = "(host, build time)"
"""The host-run probe's (PR-DYNIMPORT) expectation, layer and artifact as its record states them."""
RUNC_STATE_ROOT = "/run/sandproof-runc"
"""runc's --root for sandproof's containers: the runc argv the verifier compares names it."""
RUNSC_STATE_ROOT = "/run/sandproof-runsc"
"""runsc's --root for sandproof's containers (gVisor keeps its own state, apart from runc's)."""
RUNSC_PLATFORMS = ("ptrace", "systrap", "kvm")
"""gVisor's platforms (how the sentry intercepts the sandbox's syscalls): the evidence names one."""
CACHE_ENV = "SANDPROOF_CACHE"
CACHE_DEFAULT = "~/.cache/sandproof"
CACHE_HELP = (
    f"environment: {CACHE_ENV}=DIR keeps the image's fetched Debian packages, its layers and the root "
    f"filesystems unpacked for runc there (default: {CACHE_DEFAULT}; ~70 MB after a first attest on Docker, "
    "~40 MB more for each image runc unpacks); `sandproof cache prune` removes what no run used for 30 "
    "days, and deleting it all is safe too: the next run rebuilds what it needs"
)
"""Where ``image.cache_dir`` keeps what it builds: said by ``sandproof --help`` (issue 13)."""
SIGNED_SUFFIX = ".dsse.json"
"""``sandproof sign EVIDENCE`` writes its envelope beside it as EVIDENCE with this suffix (for
``.json``); ``verify DIR`` reads the two as one run's twins."""


def date_ok(value: object) -> bool:
    """A calendar date written YYYY-MM-DD, ASCII digits only (``fromisoformat`` alone also
    reads an ISO week date such as 2026-W48-1)."""
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True
