"""Record the engine's own view of the container while it runs (``engineview``).

Neither runtime keeps it after the run: Docker's ``--rm`` removes the container, and ``runc
run`` deletes its state directory when the process exits. So a thread reads it during the
run, off the run's path: no spawn, no hook in the container's start and no change to the
argv or the OCI config the evidence records.
- Docker: one ``/events`` request filtered to this container's ``start`` (with ``since`` a
  moment before the run, so an event that came before the request is replayed), then one
  inspect; the engine has started it, so the daemon's defaults (the AppArmor profile among
  them, set at start by moby daemon/oci_linux.go) are in the document. Without a socket,
  ``docker inspect`` is polled instead. Then the OCI config dockerd handed containerd and
  runc (``docker_oci_paths``): the spec with the daemon's own settings merged in, which the
  inspect does not show (a daemon.json ``default-ulimits``, ``seccomp-profile``, hooks).
  It is read first, at the start event (containerd deletes the task's bundle when the
  process exits, before ``--rm`` removes the container), by the event's container ID.
- Podman: ``podman container inspect``, polled with backoff until it answers a started
  container (podman has no daemon; its events need a spawn as well), then the OCI config
  libpod wrote for it and handed runc (its inspect keeps no seccomp policy, sysctls or
  masked paths): ``<graph root>/<driver>-containers/<ID>/userdata/config.json`` in
  sandproof's own podman storage (libpod container_internal.go: the bundle path is the
  container's static dir, ``OCIConfigPath`` in the inspect), read at once, before ``--rm``.
- runc: ``state.json`` under runc's ``--root``, polled with a stat-cheap read until it is
  there; libcontainer writes it whole (a temporary file renamed, libcontainer/container_linux.go
  saveState) and its config never changes during the run.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeGuard

from sandproof.engineview import ADAPTERS, problem
from sandproof.engineview.inspect import OCI_CONFIG
from sandproof.runtime.engine_api import EngineAPI, quote

MAX_DOCUMENT_BYTES = 4 << 20
STATE_POLL_S = 0.002
INSPECT_POLL_S = 0.05
JOIN_S = 5.0
NOT_STARTED = "0001-01-01T00:00:00Z"

Fetched = Mapping[str, Any] | str
"""The engine's document, or why there is none."""


class Watch:
    """One thread that fetches the engine's view of one container; ``finish`` after the run."""

    def __init__(self, runtime: str, source: str, fetch: Callable[[threading.Event], Fetched]) -> None:
        self.runtime, self.source = runtime, source
        self.stop = threading.Event()
        self._fetch = fetch
        self._got: Fetched = "the run ended before the engine's view was read"
        self._wake: list[Callable[[], None]] = []
        self._done: dict[str, Any] | Exception | None = None
        self._thread = threading.Thread(target=self._run, name=f"engine-view-{runtime}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._got = self._fetch(self.stop)
        except Exception as exc:
            self._got = f"reading the engine's view failed: {type(exc).__name__}: {exc}"
        self._done = self._record(self._got)  # here while the run goes on: ~0.4 ms less after it

    def _record(self, got: Fetched) -> dict[str, Any] | Exception:
        """The evidence's record of ``got``; an adapter's error, raised again by ``finish``."""
        try:
            if isinstance(got, str):
                return problem(self.runtime, self.source, got)
            return {**ADAPTERS[self.runtime].record(got), "source": self.source}
        except Exception as exc:
            return exc

    def on_finish(self, wake: Callable[[], None]) -> None:
        """Called by ``finish`` to wake a fetch blocked on a read."""
        self._wake.append(wake)

    def finish(self) -> dict[str, Any]:
        """The evidence's ``engine_view`` record (a problem record when none was read)."""
        self.stop.set()
        for wake in self._wake:
            wake()
        self._thread.join(JOIN_S)
        done = None if self._thread.is_alive() else self._done
        if done is None:  # a fetch that did not stop in time: what it had by now
            done = self._record(self._got)
        if isinstance(done, Exception):
            raise done
        return done


def docker_api(api: EngineAPI, name: str) -> Watch:
    since = f"{time.time() - 1:.6f}"
    filters = json.dumps({"type": ["container"], "container": [name], "event": ["start"]})
    holder: list[socket.socket] = []
    roots = docker_oci_roots(api.socket_path)

    def fetch(stop: threading.Event) -> Fetched:
        sock = api.stream(f"/events?since={since}&filters={quote(filters)}")
        holder.append(sock)
        try:
            event = _first_event(sock, stop)
            if event is None:
                return "the engine reported no start of the container"
        finally:
            sock.close()
        ident = event.get("id")
        cfg = read_oci_config(roots, ident)
        doc = api.container(name)
        if doc is None:
            return "the container was removed before it could be inspected"
        if isinstance(cfg, str):
            return cfg
        if doc.get("Id") != ident:
            return "the start event's container is not the one inspected"
        return {**doc, OCI_CONFIG: cfg}

    def wake() -> None:
        for sock in holder:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watch = Watch("docker", "GET /containers/{id}/json", fetch)
    watch.on_finish(wake)
    return watch


def _first_event(sock: socket.socket, stop: threading.Event) -> dict[str, Any] | None:
    """The first event once the answer's body holds a line (one event, JSON; a chunked body's
    size line before it); None at its end."""
    data = b""
    while not stop.is_set() and len(data) < MAX_DOCUMENT_BYTES:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return None
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep and not head.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")):
            return None
        for line in body.splitlines(keepends=True) if sep else ():
            if line.endswith(b"\n") and line.lstrip().startswith(b"{"):
                try:
                    event = json.loads(line)
                except ValueError:
                    return None
                return event if isinstance(event, dict) else None
    return None


TASKS = "io.containerd.runtime.v2.task/moby"
"""containerd's directory of running tasks in the namespace dockerd uses (moby
libcontainerd/remote: namespace "moby"; containerd runtime/v2 bundle.go: ``<state>/<runtime
type>/<namespace>/<id>``, the bundle holding the ``config.json`` runc is given)."""
SYSTEM_CONTAINERD = Path("/run/containerd")
"""A containerd of the host's own (Debian's docker.io runs dockerd ``--containerd=
/run/containerd/containerd.sock``): its state directory, containerd's default."""


def docker_oci_roots(socket_path: str) -> list[Path]:
    """Where the bundle of a container of the engine on ``socket_path`` can be. A dockerd that
    starts containerd itself gives it the state ``<exec root>/containerd/daemon`` (moby
    libcontainerd/supervisor remote_daemon.go), the exec root being the socket's name without
    ``.sock`` by default (/var/run/docker; rootless: $XDG_RUNTIME_DIR/docker, inside
    rootlesskit's mount namespace, so mostly unreadable from here); else the host's containerd."""
    own = Path(socket_path.removesuffix(".sock")) / "containerd" / "daemon" / TASKS
    return [own, SYSTEM_CONTAINERD / TASKS]


def read_oci_config(roots: list[Path], ident: object) -> Mapping[str, Any] | str:
    """The config.json of container ``ident``'s bundle, or why none could be read (then the
    view FAILs: the spec is where a daemon's own settings show, and nothing else shows them)."""
    if not _is_container_id(ident):
        return "the start event names no container ID"
    why = []
    for root in roots:
        got = _oci_file(root / ident / "config.json", "Docker")
        if not isinstance(got, str):
            return got
        why.append(got)
    return "; ".join(why)


def docker_cli(binary: str, name: str, env: dict[str, str]) -> Watch:
    """Without the Engine API: ``docker inspect`` polled, then the OCI config by its ``Id``;
    a remote engine (DOCKER_HOST tcp://, ssh://) keeps its bundles on its own machine: the
    view records that the spec could not be read."""
    inspect = _poll_inspect([binary, "inspect", "--type", "container", name], env, (INSPECT_POLL_S,))
    host = env.get("DOCKER_HOST", "") or f"unix://{DEFAULT_SOCKET}"

    def fetch(stop: threading.Event) -> Fetched:
        doc = inspect(stop)
        if isinstance(doc, str):
            return doc
        if not host.startswith("unix://"):
            return f"Docker's OCI config cannot be read: the engine at {host} keeps its bundles on its own machine"
        ident = doc.get("Id")
        cfg = read_oci_config(docker_oci_roots(host.removeprefix("unix://")), ident)
        return cfg if isinstance(cfg, str) else {**doc, OCI_CONFIG: cfg}

    return Watch("docker", "docker inspect", fetch)


DEFAULT_SOCKET = "/var/run/docker.sock"


def podman_cli(argv: list[str], name: str, env: dict[str, str], containers: Path) -> Watch:
    """``argv``: podman with sandproof's engine options (runtime/podman.py ``engine().args()``);
    ``containers``: that storage's ``<driver>-containers`` directory."""
    inspect = _poll_inspect([*argv, "container", "inspect", name], env, PODMAN_WAITS_S)

    def fetch(stop: threading.Event) -> Fetched:
        doc = inspect(stop)
        return doc if isinstance(doc, str) else with_oci_config(doc, containers)

    return Watch("podman", "podman container inspect", fetch)


_CONTAINER_ID = re.compile(r"[0-9a-f]{64}")


def _is_container_id(ident: object) -> TypeGuard[str]:
    """An engine's full container ID (a path part, never ``..`` or a separator)."""
    return isinstance(ident, str) and _CONTAINER_ID.fullmatch(ident) is not None


def with_oci_config(doc: Mapping[str, Any], containers: Path) -> Fetched:
    """The inspect document with the OCI config podman wrote for the container under
    ``OCI_CONFIG`` (the path from the container's ID in sandproof's storage, never one the
    document names)."""
    ident = doc.get("Id")
    if not _is_container_id(ident):
        return "podman's inspect names no container ID"
    cfg = _oci_file(containers / ident / "userdata" / "config.json", "podman")
    return cfg if isinstance(cfg, str) else {**doc, OCI_CONFIG: cfg}


def _oci_file(path: Path, engine: str) -> Mapping[str, Any] | str:
    try:
        with path.open("rb") as f:
            cfg = json.loads(f.read(MAX_DOCUMENT_BYTES))
    except OSError as exc:
        return f"{engine}'s OCI config {path} could not be read: {exc.strerror}"
    except ValueError:
        return f"{engine}'s OCI config {path} is not JSON"
    if not isinstance(cfg, dict):
        return f"{engine}'s OCI config {path} is not an object"
    return cfg


PODMAN_WAITS_S = (0.25, 0.05, 0.1, 0.2)
"""Podman has no events stream to wait on without a spawn, and each inspect is a process
(~0.1 s here, on the run's CPUs): the first read comes once the container has usually started
(~0.2 s after ``podman run`` here), then a few quick retries, then every 0.2 s."""


def _poll_inspect(
    argv: list[str], env: dict[str, str], waits: tuple[float, ...]
) -> Callable[[threading.Event], Fetched]:
    """Poll an inspect command until the container is seen started, then stop: one
    successful read is the whole view."""

    def fetch(stop: threading.Event) -> Fetched:
        tries = 0
        while not stop.wait(waits[min(tries, len(waits) - 1)]):
            tries += 1
            proc = subprocess.run(argv, capture_output=True, env=env, timeout=30, check=False)
            try:
                docs = json.loads(proc.stdout) if proc.returncode == 0 else None
            except ValueError:  # a partial answer: ask again
                continue
            first = docs[0] if isinstance(docs, list) and docs and isinstance(docs[0], dict) else {}
            state = first.get("State")
            if isinstance(state, dict) and state.get("StartedAt", NOT_STARTED) != NOT_STARTED:
                return dict(first)
        return "the container was not seen started"

    return fetch


def runc_state(state_dir: Path) -> Watch:
    path = state_dir / "state.json"

    def fetch(stop: threading.Event) -> Fetched:
        while not stop.is_set():
            try:
                with path.open("rb") as f:
                    raw = f.read(MAX_DOCUMENT_BYTES)
                doc = json.loads(raw)
            except (OSError, ValueError):
                time.sleep(STATE_POLL_S)
                continue
            return doc if isinstance(doc, dict) else "runc's state.json is not an object"
        return "runc's state.json was never there while the container ran"

    return Watch("runc", "runc state.json", fetch)
