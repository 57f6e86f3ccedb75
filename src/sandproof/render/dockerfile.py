"""``Dockerfile.sandbox`` for a profile (the seed's §4 shape)."""

from __future__ import annotations

import json

from sandproof.profile import Profile


def render(profile: Profile, base: str | None = None) -> str:
    p = profile
    return (
        f"# Rendered by sandproof from profile {p.name!r}; if this conflicts with the profile, the profile wins.\n"
        f"FROM {base or p.image.base}\n"
        f"WORKDIR {p.image.workdir}\n"
        "# inspector/ holds main.py and the inspector package (stdlib only)\n"
        f"COPY --chown=root:root inspector/ {p.image.workdir.rstrip('/')}/\n"
        f"USER {p.user.uid}:{p.user.gid}\n"
        f"ENTRYPOINT {json.dumps(list(p.image.entrypoint))}\n"
    )
