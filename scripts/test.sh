#!/usr/bin/env bash
# The test command (README): sets up a fresh Debian machine, then runs ruff, mypy
# --strict and the whole pytest suite, real containers on Docker and runc included.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
install_deps test
install_actionlint
trap stop_docker EXIT
start_docker
echo "test: ruff" >&2
.venv/bin/ruff check src tests benchmarks scripts
.venv/bin/ruff format --check src tests benchmarks scripts
echo "test: mypy --strict" >&2
.venv/bin/mypy src tests benchmarks scripts
echo "test: pytest" >&2
.venv/bin/pytest "$@"
