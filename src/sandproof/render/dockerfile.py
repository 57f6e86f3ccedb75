"""``Dockerfile.sandbox`` for a profile (the seed's §4 shape)."""

from __future__ import annotations

import json

from sandproof.errors import ProfileError
from sandproof.profile import Profile, image_reference


def render(profile: Profile, base: str | None = None) -> str:
    p = profile
    start = base or p.image.base
    # the loader refused any other image.base; checked again here since a FROM line is where a
    # newline would start another instruction (a profile built in code never met the loader)
    if image_reference(start) is None:
        raise ProfileError(f"Dockerfile base {start!r}: not an image reference [HOST[:PORT]/]PATH[:TAG][@DIGEST]")
    return (
        f"# Rendered by sandproof from profile {p.name!r}; if this conflicts with the profile, the profile wins.\n"
        f"FROM {start}\n"
        f"WORKDIR {p.image.workdir}\n"
        "# inspector/ holds main.py and the inspector package (stdlib only)\n"
        f"COPY --chown=root:root inspector/ {p.image.workdir.rstrip('/')}/\n"
        f"USER {p.user.uid}:{p.user.gid}\n"
        f"ENTRYPOINT {json.dumps(list(p.image.entrypoint))}\n"
    )
