"""What each runtime adds to a sandbox on its own, in one place.

A probe's expectation is the profile's exact set plus what the runtime documents it adds
(and nothing else): anything beyond both is a weakening. Facts are cited where they come
from; each was also observed on this project's machines (Docker 20.10, runc 1.1, Debian 12).
"""

from __future__ import annotations

ENV_NAMES: dict[str, tuple[str, ...]] = {
    # moby daemon/oci_linux.go: PATH from the image, HOSTNAME from the container, HOME from
    # the user's passwd entry when the image does not set it
    "docker": ("HOME", "HOSTNAME", "PATH"),
    # runc libcontainer/init_linux.go sets HOME from passwd when absent; PATH is in our config
    "runc": ("HOME", "PATH"),
}
"""Environment variables the runtime sets itself, beside the profile's own."""
