"""The GitHub Actions workflow (seed §2), rendered from the profile.

Kept from the seed: manual ``workflow_dispatch`` with a ``run_date`` input, ``contents:
read``, ``ubuntu-latest``, a 10-minute timeout, an artifact kept 30 days that must
exist. Changed: every action pinned to a full commit SHA (tag in a comment), inputs
reach scripts through ``env:`` only, checkout keeps no credentials, and the image
build, run, merge and verify are ``sandproof`` commands instead of inline scripts.
``sign="github"`` adds keyless GitHub artifact attestations and the two permissions
they need.
"""

from __future__ import annotations

import json

from sandproof import __version__, contract, signing
from sandproof import wheel as wheels
from sandproof.profile import Profile

# read from the actions' own git tags (see DESIGN.md); never a tag alone
CHECKOUT = "actions/checkout@11d5960a326750d5838078e36cf38b85af677262  # v4.4.0"
UPLOAD = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02  # v4.6.2"
ATTEST = "actions/attest@1e69f48acb82d1966a394da916b4c1698aa569d6  # v4.2.2"
WORKFLOW_PATH = ".github/workflows/sandproof-attestation.yml"
PROFILE_FILE = "sandproof-profile.toml"
SIGN_CHOICES = contract.SIGN_CHOICES
WHEEL_DIR = ".sandproof"
"""Where ``init`` puts the sandproof wheel it runs from, and its dependencies' pins."""
DEPENDENCIES = f"{WHEEL_DIR}/requirements.txt"
VENV = "$RUNNER_TEMP/sandproof-venv"
SANDPROOF = f'"{VENV}/bin/sandproof"'


def _q(text: str) -> str:
    return json.dumps(text)  # a YAML double-quoted scalar


def _install(sandproof_spec: str | None, wheel: wheels.Wheel | None) -> str:
    """The install step: the layout's wheel, hash-checked (pip's --require-hashes wants the
    hash in a requirements file, written here from the literal pinned in this workflow); or,
    with --sandproof-spec, whatever pip finds for that spec."""
    pip = f'"{VENV}/bin/pip"'
    if sandproof_spec is not None:
        return f"""      - name: Install sandproof
        env:
          SANDPROOF_SPEC: {_q(sandproof_spec)}
        run: |
          python3 -m venv "{VENV}"
          {pip} install "$SANDPROOF_SPEC"
"""
    wheel = wheel or wheels.build()
    return f"""      - name: Install sandproof (the wheel `sandproof init` wrote, checked against its sha256)
        run: |
          python3 -m venv "{VENV}"
          echo "{WHEEL_DIR}/{wheel.file_name} --hash=sha256:{wheel.sha256}" > "$RUNNER_TEMP/sandproof-wheel.txt"
          {pip} install --require-hashes --no-deps -r "$RUNNER_TEMP/sandproof-wheel.txt"
          # its dependencies at the versions init ran with (pinned by version, not by hash)
          {pip} install -r {DEPENDENCIES}
"""


def render(
    profile: Profile, *, sign: str = "none", sandproof_spec: str | None = None, wheel: wheels.Wheel | None = None
) -> str:
    """The workflow; it installs ``wheel`` (default: this sandproof's, as ``init`` writes it)
    unless ``sandproof_spec`` names what pip should install instead."""
    evidence = "${{ runner.temp }}/out/sandbox-attestation-evidence-ci-*.json"
    perms = "  contents: read  # least privilege"
    if sign == "github":
        perms += "\n  id-token: write  # keyless signing: the runner's OIDC identity\n  attestations: write"
    lines = f"""# Rendered by sandproof {__version__} from profile {profile.name!r};
# `sandproof init --check` finds drift between this file and the profile.
name: {_q(f"sandproof attestation ({profile.name})")}
# Manual trigger only: no push or pull_request, so it never runs by accident (seed §0).
on:
  workflow_dispatch:
    inputs:
      run_date:
        description: "Attestation date stamp (YYYY-MM-DD)"
        required: true
        type: string
permissions:
{perms}
jobs:
  attest:
    runs-on: ubuntu-latest
    timeout-minutes: 10
    steps:
      - name: Checkout
        uses: {CHECKOUT}
        with:
          persist-credentials: false
      - name: Record venue identity
        run: |
          uname -a
          docker --version
          echo "runner ${{RUNNER_OS}}/${{RUNNER_ARCH}} run ${{GITHUB_RUN_ID}} of ${{GITHUB_REPOSITORY}}"
{_install(sandproof_spec, wheel)}      - name: Build the deny-by-default image (offline, reproducible)
        run: |
          {SANDPROOF} image build --profile {PROFILE_FILE}
      - name: Attest (probes inside the sandbox, outside facts merged, verified)
        env:
          RUN_DATE: ${{{{ inputs.run_date }}}}
        run: >-
          {SANDPROOF} attest --profile {PROFILE_FILE} --runtime docker
          --out "$RUNNER_TEMP/out" --run-date "$RUN_DATE"
      - name: Verify (read-only, CI venue required)
        if: ${{{{ !cancelled() }}}}
        env:
          RUN_DATE: ${{{{ inputs.run_date }}}}
        run: >-
          {SANDPROOF} verify --profile {PROFILE_FILE} --require-venue ci --format markdown
          "$RUNNER_TEMP/out/sandbox-attestation-evidence-ci-$RUN_DATE.json" >> "$GITHUB_STEP_SUMMARY"
"""
    if sign == "github":
        lines += f"""      - name: Sign the evidence (GitHub artifact attestation, keyless)
        if: ${{{{ !cancelled() }}}}
        uses: {ATTEST}
        with:
          subject-path: {_q(evidence)}
          predicate-type: {_q(signing.PREDICATE_TYPE)}
          predicate-path: {_q(evidence)}
"""
    lines += f"""      - name: Upload the evidence bundle
        if: ${{{{ !cancelled() }}}}
        uses: {UPLOAD}
        with:
          name: sandproof-attestation-evidence
          path: |
            ${{{{ runner.temp }}}}/out/sandbox-attestation-evidence-ci-*.json
            ${{{{ runner.temp }}}}/out/sandbox-attestation-inside.json
            ${{{{ runner.temp }}}}/out/report.md
          if-no-files-found: error
          retention-days: 30
"""
    return lines
