#!/usr/bin/env bash
# The test command (README): sets up a fresh Debian machine, then runs ruff, mypy
# --strict (incremental: .mypy_cache) and the whole pytest suite, real containers on Docker
# runc, runsc and podman included, in parallel workers (SANDPROOF_TEST_WORKERS, default 3).
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
# three workers on this 2-core machine: the engine tests mostly wait on the engine. Each runtime's
# engine tests stay together in one worker, one after another (tests/conftest.py: engine_group;
# Docker's weakenings in two such groups), while the unit tests fill the others. Measured here, quiet: 2 workers 4 min 14 s, 3 workers
# 3 min 48 s and 3 min 51 s (benchmarks/suite_time.py prints the wall time and the load)
.venv/bin/pytest -n "${SANDPROOF_TEST_WORKERS:-3}" --dist loadgroup "$@"
