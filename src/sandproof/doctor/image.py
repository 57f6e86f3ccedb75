"""Image rules: what is built on is named by content, not by a tag that can move."""

from __future__ import annotations

import re
from collections.abc import Iterator

from sandproof.doctor.core import Hit, Level, Rule
from sandproof.profile import Profile

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}")


def base(p: Profile) -> Iterator[Hit]:
    if not _DIGEST.search(p.image.base):
        yield Hit(
            f"the base image {p.image.base!r} is named by tag: whoever controls the tag controls what is built",
            p.image.base,
            "image.base",
        )


RULES = (
    Rule(
        "SPD050",
        "Base image not pinned by digest",
        "A tag moves (a push, a compromised registry account); a digest names the exact bytes, so the "
        "image the evidence names is the image that was built.",
        'Pin it: base = "gcr.io/distroless/python3-debian12:nonroot@sha256:<digest>" (docker buildx '
        "imagetools inspect NAME:TAG prints it).",
        Level.WARNING,
        profile=base,
    ),
)
