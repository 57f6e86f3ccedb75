#!/usr/bin/env bash
# The main job (README): sets up a fresh Debian machine and attests the default
# profile on the Docker engine. Extra arguments go to `sandproof attest`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
install_deps attest
trap stop_docker EXIT
start_docker
.venv/bin/sandproof attest --profile default --runtime docker --out sandproof-out "$@"
