#!/usr/bin/env bash
# Installs what OrchestraLink needs on this machine, skipping every step whose
# inputs have not changed since it last succeeded (a stamp file per step under
# .venv/ records the hash of its inputs).
#
# usage: infrastructure/scripts/bootstrap.sh [python|system|node|browser|tools|all|test]...
#   all: what make deploy-local needs; test: that plus what make test needs
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
venv="${VENV:-$root/.venv}"
python="${PYTHON:-python3}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

stamp_ok() {  # stamp_ok NAME HASH: true when step NAME last succeeded with HASH
  [ -f "$venv/.stamp-$1" ] && [ "$(cat "$venv/.stamp-$1")" = "$2" ]
}
stamp_set() { echo "$2" >"$venv/.stamp-$1"; }
inputs_hash() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else return 1
  fi
}

apt_install() {  # apt_install PACKAGE...: installs Debian packages, updating lists once
  if [ ! -f /tmp/.orchestralink-apt-updated ]; then
    say "apt-get update"
    as_root apt-get update -qq || return 1
    touch /tmp/.orchestralink-apt-updated
  fi
  say "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

python_env() {
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || fail "Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11"
  local hash
  hash=$(inputs_hash pyproject.toml requirements.lock infrastructure/localcloud/pyproject.toml)
  if [ -x "$venv/bin/python" ] && stamp_ok python "$hash"; then return; fi
  [ -x "$venv/bin/python" ] || { say "creating virtual environment in $venv"; "$python" -m venv "$venv"; }
  say "installing Python packages (pinned in pyproject.toml and requirements.lock)"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    -c requirements.lock -e 'infrastructure/localcloud' -e '.[dev]'
  stamp_set python "$hash"
}

mosquitto() {
  if command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ]; then
    command -v mosquitto_pub >/dev/null && return
  fi
  case "$(uname -s)" in
    Linux)
      command -v apt-get >/dev/null && apt_install mosquitto mosquitto-clients && return
      fail "Mosquitto is missing and apt-get is not available (or not as root/sudo): install the 'mosquitto' and 'mosquitto-clients' packages";;
    Darwin)
      command -v brew >/dev/null && { say "brew install mosquitto"; brew install mosquitto; return; }
      fail "Mosquitto is missing: install Homebrew, then 'brew install mosquitto'";;
    *) fail "Mosquitto is missing: install it from https://mosquitto.org/download/";;
  esac
}

node_packages() {  # the dashboard's packages, from its lock file
  [ -f frontend/package-lock.json ] || return 0
  command -v npm >/dev/null && command -v node >/dev/null || fail \
    "Node.js 20+ and npm are needed for the dashboard: apt-get install nodejs npm (Debian/Ubuntu) or brew install node (macOS)"
  local hash
  hash=$(inputs_hash frontend/package-lock.json frontend/package.json)
  if [ -d frontend/node_modules ] && stamp_ok node "$hash"; then return; fi
  say "installing the dashboard's packages (npm ci)"
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
  stamp_set node "$hash"
}

browser() {  # Debian's Chromium for the browser tests (Playwright drives it; no download)
  if command -v chromium >/dev/null || [ -x /usr/bin/chromium ]; then return; fi
  case "$(uname -s)" in
    Linux)
      command -v apt-get >/dev/null && apt_install chromium && return
      fail "Chromium is missing: install your distribution's 'chromium' package";;
    Darwin)
      fail "Chromium is missing: brew install --cask chromium, then set CHROMIUM_PATH";;
  esac
}

test_tools() {  # validators the tests run: docker-compose checks the LocalStack
  # compose file without an engine, shellcheck its init hook (Debian packages)
  local missing=()
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  command -v shellcheck >/dev/null || missing+=(shellcheck)
  [ ${#missing[@]} -eq 0 ] && return
  [ "$(uname -s)" = Linux ] && command -v apt-get >/dev/null && apt_install "${missing[@]}" && return
  say "not installed: ${missing[*]} (the tests that need them are skipped)"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(all)
for step in "${steps[@]}"; do
  case "$step" in
    python) python_env;;
    system) mosquitto;;
    node) node_packages;;
    browser) browser;;
    tools) test_tools;;
    all) python_env; mosquitto;;
    test) python_env; mosquitto; node_packages; browser; test_tools;;
    *) fail "unknown step '$step' (python, system, node, browser, tools, all, test)";;
  esac
done
