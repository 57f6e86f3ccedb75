"""``init``: the seed's §1 repository layout, rendered from one profile; ``--check``:
the seed's rule "if anything conflicts with the profile, the profile wins", as a test."""

from __future__ import annotations

import difflib
import hashlib
import os
from pathlib import Path

from sandproof import atomic, image, imagespec, seccomp
from sandproof import wheel as wheels
from sandproof.errors import OutputError
from sandproof.profile import Profile
from sandproof.render import dockerfile, workflow


def files(profile: Profile, *, sign: str = "none", sandproof_spec: str | None = None) -> dict[str, bytes]:
    """Every file of the layout, by path relative to the repository root: with no
    ``sandproof_spec``, the wheel of this sandproof and its dependencies' pins too."""
    wheel = None if sandproof_spec is not None else wheels.build()
    out = {
        workflow.WORKFLOW_PATH: workflow.render(
            profile, sign=sign, sandproof_spec=sandproof_spec, wheel=wheel
        ).encode(),
        "Dockerfile.sandbox": dockerfile.render(profile).encode(),
        profile.seccomp.plain_file_name(): seccomp.render(profile),
        workflow.PROFILE_FILE: profile.text.encode(),
    }
    out.update({f"inspector/{rel}": data for rel, data in image.inspector_files().items()})
    if wheel is not None:
        out[f"{workflow.WHEEL_DIR}/{wheel.file_name}"] = wheel.data
        out[workflow.DEPENDENCIES] = wheels.pinned_dependencies().encode()
    return out


def write(profile: Profile, root: Path, *, sign: str = "none", sandproof_spec: str | None = None) -> list[str]:
    layout = files(profile, sign=sign, sandproof_spec=sandproof_spec)
    clashes = [rel for rel in layout if (root / rel).exists()]
    if clashes:
        raise OutputError(
            f"{root}: {clashes[0]} exists; init writes only into a directory without these files "
            "(use `sandproof init --check` to compare instead)"
        )
    atomic.publish(root, layout, what="init")
    # the image's files carry the lock's fixed time (imagespec's layer does): `docker build` of
    # Dockerfile.sandbox keeps a COPY'd file's mtime, so its tree is then the built one's too
    # (PR-ROOTFS-1 compares it); a checkout that sets them anew builds an image that is not
    epoch = int(imagespec.read_lock()["source_date_epoch"])
    for rel in layout:
        if rel.startswith("inspector/"):
            os.utime(root / rel, (epoch, epoch))
    return sorted(layout)


def drift(profile: Profile, root: Path, *, sign: str = "none", sandproof_spec: str | None = None) -> list[str]:
    """One line per file that is missing or differs from what the profile renders."""
    problems = []
    for rel, want in sorted(files(profile, sign=sign, sandproof_spec=sandproof_spec).items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
            continue
        have = path.read_bytes()
        if have == want:
            continue
        if rel.endswith(".whl"):  # bytes, not lines: name both digests
            problems.append(
                f"{rel}: sha256 {hashlib.sha256(have).hexdigest()}, but this sandproof's wheel is "
                f"{hashlib.sha256(want).hexdigest()} (run `sandproof init` again with the sandproof you mean)"
            )
            continue
        old, new = have.decode(errors="replace").splitlines(), want.decode(errors="replace").splitlines()
        for tag, i1, _, j1, _ in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
            if tag != "equal":
                line = old[i1] if i1 < len(old) else "(end of file)"
                expected = new[j1] if j1 < len(new) else "(end of file)"
                problems.append(
                    f"{rel}:{i1 + 1}: {line.strip()[:100]!r}; the profile renders {expected.strip()[:100]!r}"
                )
                break
        else:
            problems.append(f"{rel}: differs (line endings or trailing bytes)")
    return problems


def gh_commands(root: Path, repo: str = "OWNER/REPO") -> str:
    """What a person runs after deciding to publish (seed §3); init itself never publishes."""
    return f"""Nothing was published. The workflow installs the sandproof wheel written to {workflow.WHEEL_DIR}/ (this
sandproof, built reproducibly; its sha256 is pinned in the workflow) unless --sandproof-spec named another.
When the repository owner has authorized it (seed §0):
  cd {root} && git init -q && git add . && git commit -qm "sandproof attestation layout"
  gh repo create {repo} --private --disable-issues --disable-wiki --source . --push
  gh workflow run "sandproof attestation" -f run_date=$(date +%F)
  gh run download <run-id> -n sandproof-attestation-evidence
  sandproof verify --require-venue ci sandbox-attestation-evidence-ci-<run_date>.json
"""
