"""Image rules: what is built on is named by content, not by a tag that can move."""

from __future__ import annotations

from collections.abc import Iterator

from sandproof.doctor.core import Hit, Level, Rule
from sandproof.profile import Profile, pinned


def base(p: Profile) -> Iterator[Hit]:
    # the whole value one reference ending in its digest: a digest found anywhere in it (after
    # a newline, in a comment of the rendered Dockerfile) pins nothing
    if not pinned(p.image.base):
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
