"""gVisor's ``runsc``: the same OCI bundle as runc (``runtime/runc.py`` builds it), run by a
user-space kernel (the sentry) instead of the host's. Only the command line, the state root
and the failure message differ; the probes' expectations differ in ``plan.py`` (runtime
"runsc"), each with the observation that is true under gVisor."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sandproof.errors import EngineError
from sandproof.profile import Profile
from sandproof.render import runsc as render
from sandproof.runtime.docker import check_umask
from sandproof.runtime.interface import Finished
from sandproof.runtime.runc import Runc


class Runsc(Runc):
    name = "runsc"
    state_root = render.STATE_ROOT
    gofer = True

    def __init__(self, binary: str = "runsc", platform: str = render.PLATFORM) -> None:
        super().__init__(binary)
        self.platform = platform

    def version(self) -> str:
        v = self._version()
        if v is None:
            raise EngineError("runsc is not installed or does not run (apt-get install runsc)")
        return v

    def argv(
        self, profile: Profile, bundle: Path, container_id: str, *, preserve_fds: int = 0, flags: tuple[str, ...] = ()
    ) -> list[str]:
        if preserve_fds:
            raise EngineError("runsc run has no --preserve-fds: a leaked host fd cannot be expressed on runsc")
        return render.argv(profile, bundle, container_id, binary=self.binary, platform=self.platform, extra=flags)

    def check(self, profile: Profile) -> None:
        super().check(profile)
        check_umask(profile, "runsc ignores process.user.umask and gives every process")

    def facts(self) -> dict[str, Any]:
        return {"runtime_platform": self.platform}

    def refused(self, done: Finished) -> bool:
        """runsc's own failure before the sandbox ran: its last stderr line starts with
        ``running container: `` or ``creating container: `` (runsc/cmd/run.go, util.Fatalf)."""
        lines = done.stderr.tail.splitlines() or done.stderr.head.splitlines()
        return (
            done.code != 0 and bool(lines) and lines[-1].startswith((b"running container: ", b"creating container: "))
        )

    def remove_leftover(self, container_id: str) -> None:
        # runsc/container/state_file.go: "<root>/<sandbox id>_sandbox:<container id>.state"
        root = Path(self.state_root)
        if root.is_dir() and any(container_id in name for name in os.listdir(root)):
            self.remove(container_id)
