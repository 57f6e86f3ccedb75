"""kubectl's JSON about pods, read in one place for the Job run (``runtime/kubernetes.py``)
and the DaemonSet run (``runtime/k8s_fleet.py``).

What kubectl prints is the cluster's word, so untrusted: every read checks the shape it
takes. An answer that is not a JSON object (or whose ``items`` is not a list) is an
EngineError, one line; a field of the wrong type reads as absent; text is bounded; a name
that goes back to kubectl as an argument must be a DNS-1123 name (else a hostile pod name
such as ``--kubeconfig=...`` would be read by kubectl as a flag).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from typing import Any

from sandproof.errors import EngineError
from sandproof.render import k8s

TEXT_MAX = 300
NAME_MAX = 253
# k8s.io/apimachinery validation.IsDNS1123Subdomain: pod and node names
_DNS1123 = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


def obj(value: object, key: str) -> Mapping[str, Any]:
    """``value[key]`` when both are JSON objects, else an empty one."""
    got = value.get(key) if isinstance(value, Mapping) else None
    return got if isinstance(got, Mapping) else {}


def text(value: Mapping[str, Any], key: str) -> str | None:
    got = value.get(key)
    return got[:TEXT_MAX] if isinstance(got, str) else None


def integer(value: Mapping[str, Any], key: str) -> int | None:
    got = value.get(key)
    return got if isinstance(got, int) and not isinstance(got, bool) and -(1 << 31) <= got < 1 << 31 else None


def last_line(data: bytes) -> str:
    """kubectl's last line of stderr, bounded (its message; the rest is its usage)."""
    lines = data.decode(errors="replace").strip().splitlines()
    return lines[-1][:500] if lines else "(no message)"


def answer(got: subprocess.CompletedProcess[bytes], what: str) -> Mapping[str, Any]:
    """The JSON object kubectl printed for ``what`` (``get pods``, ...), or an EngineError."""
    if got.returncode != 0:
        raise EngineError(f"kubectl {what} failed: {last_line(got.stderr)}")
    try:
        data = json.loads(got.stdout or b"{}")
    except ValueError as exc:
        raise EngineError(f"kubectl {what}: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise EngineError(f"kubectl {what}: not a JSON object but {type(data).__name__}")
    return data


def items(doc: Mapping[str, Any], what: str) -> list[Mapping[str, Any]]:
    """A list's ``items``: absent is none; anything but a list of objects is an EngineError."""
    got = doc.get("items")
    if got is None:
        return []
    if not isinstance(got, list) or not all(isinstance(i, dict) for i in got):
        raise EngineError(f"kubectl {what}: items is not a list of objects")
    return got


def name(item: Mapping[str, Any]) -> str:
    """``metadata.name`` as given (bounded), "" when it is not text."""
    return text(obj(item, "metadata"), "name") or ""


def checked_name(item: Mapping[str, Any], what: str) -> str:
    """``metadata.name`` for use as a kubectl argument or a recorded name: a DNS-1123 name, else an EngineError."""
    got = obj(item, "metadata").get("name")
    if not isinstance(got, str) or len(got) > NAME_MAX or not _DNS1123.fullmatch(got):
        raise EngineError(f"kubectl listed a {what} whose name is not a Kubernetes name: {str(got)[:80]!r}")
    return got


def node_of(pod: Mapping[str, Any]) -> str:
    """The node a pod is for: spec.nodeName once bound, before that the node its required
    affinity names (the DaemonSet controller pins each pod with a metadata.name matchField)."""
    spec = obj(pod, "spec")
    bound = text(spec, "nodeName")
    if bound:
        return bound[:NAME_MAX]
    required = obj(obj(spec, "affinity"), "nodeAffinity")
    terms = obj(required, "requiredDuringSchedulingIgnoredDuringExecution").get("nodeSelectorTerms")
    for term in terms if isinstance(terms, list) else []:
        fields = term.get("matchFields") if isinstance(term, dict) else None
        for f in fields if isinstance(fields, list) else []:
            values = f.get("values") if isinstance(f, dict) else None
            if f.get("key") == "metadata.name" and isinstance(values, list) and values and isinstance(values[0], str):
                return values[0][:NAME_MAX]
    return ""


def harness_status(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    """The harness container's status in ``status.containerStatuses`` (empty when absent)."""
    statuses = obj(pod, "status").get("containerStatuses")
    for status in statuses if isinstance(statuses, list) else []:
        if isinstance(status, dict) and status.get("name") == k8s.CONTAINER:
            return status
    return {}


def terminated(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The harness container's current ``terminated`` state, None while it has none."""
    got = obj(harness_status(pod), "state").get("terminated")
    return got if isinstance(got, dict) else None


def finished(pod: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool] | None:
    """The terminated state of a completed harness run and whether it is the previous container's."""
    status = harness_status(pod)
    now = obj(status, "state").get("terminated")
    if isinstance(now, dict):
        return now, False
    last = obj(status, "lastState").get("terminated")
    return (last, True) if isinstance(last, dict) else None


def waiting_reason(pod: Mapping[str, Any] | None) -> str:
    """What kubectl last said of a pod that did not finish (for the node's FAIL line)."""
    if pod is None:
        return "no pod was created for this node"
    waiting = obj(obj(harness_status(pod), "state"), "waiting")
    if waiting:
        return f"{text(waiting, 'reason') or 'waiting'}: {text(waiting, 'message') or ''}".rstrip(": ")
    return f"pod phase {text(obj(pod, 'status'), 'phase') or 'unknown'}"


def facts(pod: Mapping[str, Any], ended: Mapping[str, Any] | None) -> dict[str, Any]:
    """A pod's outside facts: its name, the image the kubelet ran, its phase, how the harness ended."""
    status = harness_status(pod)
    got: dict[str, Any] = {
        "pod": name(pod) or None,
        "image": text(status, "image"),
        "image_id": text(status, "imageID"),
        "phase": text(obj(pod, "status"), "phase"),
        "restart_count": integer(status, "restartCount"),
    }
    if ended is not None:
        got["exit_code"] = integer(ended, "exitCode")
        got["reason"] = text(ended, "reason")
    return got
