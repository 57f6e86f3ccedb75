"""The Docker Engine API on its unix socket, in plain HTTP with the stdlib.

Why not the CLI: every ``docker`` spawn costs 11-20 ms here (a Go binary that starts, reads
its config and pings the daemon) against 0.3 ms for the same request on the socket.
Why not the ``docker`` SDK for Python: measured here per call it is 0.7-0.9 ms (requests and
urllib3 underneath) and its import alone takes ~70 ms, for four GET/DELETE requests.
Why not ``http.client``: its import pulls in ``email`` and ``ssl`` (~25 ms of a CLI run's
start, measured here) for requests that are one line each way. So: HTTP/1.0 on an AF_UNIX
socket, one request per connection; the engine (Go's net/http) answers HTTP/1.0 with neither
keep-alive nor chunking, so the body is everything up to the close. Nothing here reads proxy
settings from the environment (urllib and requests do): a hostile ``HTTP_PROXY`` reroutes nothing.

Only a unix socket is spoken to: the one ``docker run`` itself will use, i.e. ``DOCKER_HOST``
when it names one, else the default socket. With a ``tcp://`` or ``ssh://`` host, or a
``DOCKER_CONTEXT``, ``from_environ`` says None and the runtime keeps the CLI.
"""

from __future__ import annotations

import json
import socket
import string
from collections.abc import Mapping
from typing import Any, NamedTuple

DEFAULT_SOCKET = "/var/run/docker.sock"
TIMEOUT_S = 10.0
MAX_ANSWER_BYTES = 4 << 20  # an image inspect is a few KiB
SERVER_PREFIX = "Docker/"
OK, NOT_FOUND = 200, 404
_SAFE = frozenset(string.ascii_letters + string.digits + "-._~:@+")


class Unreachable(Exception):
    """No engine answered on the socket (missing, refused, not HTTP, timed out)."""


class Answer(NamedTuple):
    status: int
    headers: dict[str, str]
    """Header names lower-cased."""
    body: bytes


def quote(segment: str) -> str:
    """One path segment, percent-encoded (``/`` too: an image name is one segment)."""
    return "".join(chr(b) if chr(b) in _SAFE else f"%{b:02X}" for b in segment.encode())


def parse_answer(raw: bytes) -> Answer:
    """An HTTP/1.x answer read to its end: status line, headers, body."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise Unreachable(f"not an HTTP answer: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return Answer(int(parts[1]), headers, body)


class EngineAPI:
    """A few Engine API calls on one unix socket; each raises ``Unreachable`` when nothing answers."""

    def __init__(self, socket_path: str, timeout: float = TIMEOUT_S) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> EngineAPI | None:
        """The socket ``docker`` would use with this environment, or None when it is not a unix socket."""
        if environ.get("DOCKER_CONTEXT"):
            return None  # a context may name any endpoint: leave it to the CLI
        host = environ.get("DOCKER_HOST", "")
        if not host:
            return cls(DEFAULT_SOCKET)
        if host.startswith("unix://") and len(host) > len("unix://"):
            return cls(host.removeprefix("unix://"))
        return None

    def request(self, method: str, path: str) -> Answer:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
            sock.sendall(f"{method} {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            chunks, size = [], 0
            while chunk := sock.recv(1 << 16):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise Unreachable(f"{self.socket_path}: answer larger than {MAX_ANSWER_BYTES} bytes")
        except OSError as exc:
            raise Unreachable(f"{self.socket_path}: {exc.strerror or exc}") from exc
        finally:
            sock.close()
        return parse_answer(b"".join(chunks))

    def _json(self, path: str) -> Any:
        status, _, body = self.request("GET", path)
        if status != OK:
            return None
        try:
            return json.loads(body)
        except ValueError as exc:
            raise Unreachable(f"{self.socket_path}: not the Engine API ({exc})") from exc

    def version(self) -> str:
        """The engine's version (``docker version``'s Server.Version). ``/_ping`` answers it in
        its ``Server`` header, ``Docker/<version> (<os>)``, set on every response by moby's
        api/server/middleware/version.go (VersionMiddleware.WrapHandler); ``/version`` costs
        ~5 ms more (it asks containerd and runc for theirs), so it is only the fallback."""
        status, headers, _ = self.request("GET", "/_ping")
        server = headers.get("server", "")
        if status == OK and server.startswith(SERVER_PREFIX) and " " in server:
            return server.removeprefix(SERVER_PREFIX).split(" ", 1)[0]
        data = self._json("/version")
        if not isinstance(data, dict) or not isinstance(data.get("Version"), str):
            raise Unreachable(f"{self.socket_path}: no engine version in the answer")
        return str(data["Version"])

    def image_id(self, ref: str) -> str | None:
        """``docker image inspect``'s Id, or None when the engine has no such image."""
        data = self._json(f"/images/{quote(ref)}/json")
        value = data.get("Id") if isinstance(data, dict) else None
        return value if isinstance(value, str) else None

    def container_exists(self, name: str) -> bool:
        """True while the engine has a container of this exact name (or on any answer but 404)."""
        status, _, _ = self.request("GET", f"/containers/{quote(name)}/json")
        return status != NOT_FOUND

    def remove_container(self, name: str) -> None:
        """``docker rm --force --volumes``: kill and remove, with the anonymous volumes an image's
        ``VOLUME`` made (``v=1``; ``--rm``'s own removal takes them, a forced one without ``v``
        leaves them on the host's disk); 404 (gone) and 409 (removal already in progress, as
        ``--rm`` may be) are fine, the caller waits for ``container_exists``."""
        self.request("DELETE", f"/containers/{quote(name)}?force=1&v=1")

    def container(self, name: str) -> dict[str, Any] | None:
        """``docker inspect``'s document of a container, or None when the engine has none of that name."""
        data = self._json(f"/containers/{quote(name)}/json")
        return data if isinstance(data, dict) else None

    def stream(self, path: str) -> socket.socket:
        """Send a GET whose answer streams (``/events``) and hand back the connected socket:
        the caller reads it and closes it (or shuts it down from another thread to stop)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        except OSError as exc:
            sock.close()
            raise Unreachable(f"{self.socket_path}: {exc.strerror or exc}") from exc
        sock.settimeout(None)  # an event may be long in coming: the caller stops it
        return sock
