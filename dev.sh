#!/usr/bin/env bash
# The two commands of the README:
#   ./dev.sh run    install what the demo hall needs, then run it (server on http://127.0.0.1:8080)
#   ./dev.sh test   install what the tests need, then run them
# and one for whoever changes a dependency:
#   ./dev.sh lock   compile requirements*.txt (edited by hand) into requirements*.lock: every
#                   package, transitive ones too, pinned with the hashes of all its files on
#                   PyPI (x86-64 and the Raspberry Pi's aarch64 alike). run and test install
#                   the locks with --require-hashes, so a fresh install runs what was tested.
# Works on Debian 12 and Raspberry Pi OS (Bookworm); installs with apt (via sudo when not root)
# and into a virtual environment in .venv. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")"

RUN_APT=(python3-venv python3-dev fonts-noto-cjk fonts-wqy-zenhei espeak-ng sox)
TEST_APT=(chromium redis-server systemd postgresql)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing with apt: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

venv_install() {  # $1: a lock file
  local stamp=".venv/.installed-$(basename "$1")"
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ -n "$(find requirements*.lock -newer "$stamp")" ]; then
    .venv/bin/pip install -q --require-hashes -r "$1"
    touch "$stamp"
  fi
}

# axe-core, which the page checks run in Chromium, pinned by tests/axe/package-lock.json.
# Debian's npm only when the machine has none (a NodeSource node brings its own npm).
axe_install() {
  command -v npm >/dev/null || apt_install nodejs npm
  local stamp=tests/axe/node_modules/.installed
  if [ ! -f "$stamp" ] || [ tests/axe/package-lock.json -nt "$stamp" ]; then
    npm ci --prefix tests/axe --no-audit --no-fund --silent
    touch "$stamp"
  fi
}

lock() {  # $1: the hand-edited input, $2: the lock; further arguments go to uv
  local input="$1" output="$2"; shift 2
  .venv/bin/uv pip compile "$input" --generate-hashes --universal --python-version 3.11 \
    --index-url https://pypi.org/simple --custom-compile-command "./dev.sh lock" \
    --quiet -o "$output" "$@"
}

# The Pi runs Debian's pygame, whose SDL has KMS/DRM (pip's wheels bundle an SDL without it):
# the screens are also drawn with that pygame, by Debian's python3 in a venv of its own
# (.venv-pi) that sees Debian's packages and takes everything else from the dev lock.
PI_SCREEN_TESTS=(tests/test_display_screens.py tests/test_kiosk.py tests/test_voice_announcer.py)
pi_screen_tests() {
  apt_install python3-pygame
  [ -x .venv-pi/bin/python ] || /usr/bin/python3 -m venv --system-site-packages .venv-pi
  local stamp=.venv-pi/.installed-requirements-dev.lock
  if [ ! -f "$stamp" ] || [ requirements-dev.lock -nt "$stamp" ]; then
    awk 'tolower($0) ~ /^pygame==/ { skip = 1 } !skip { print } skip && !/\\$/ { skip = 0 }' \
      requirements-dev.lock > .venv-pi/requirements.lock
    .venv-pi/bin/pip install -q --require-hashes -r .venv-pi/requirements.lock
    touch "$stamp"
  fi
  echo "The screens again, with Debian's pygame $(.venv-pi/bin/python -c \
    'import os; os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"; import pygame; print(pygame.version.ver)') (as on the Pi):"
  .venv-pi/bin/python -m pytest -q -p no:cacheprovider "${PI_SCREEN_TESTS[@]}"
}

# With a screen (a desktop session) and the demo hall, the lobby display opens beside the server
# (it waits for the server by itself). HALLQ_NO_DISPLAY=1 turns this off.
start_display() {
  local port=8080 args=("$@")
  [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${HALLQ_NO_DISPLAY:-}" ] || return 0
  for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
      --config) return 0 ;;
      --port) port="${args[i+1]:-8080}" ;;
    esac
  done
  ( [ -f var/voice/default/manifest.toml ] || .venv/bin/python -m display.voicepack build var/voice/default >/dev/null
    exec .venv/bin/python -m display --server "http://127.0.0.1:$port" --token demo-display-1-token ) &
}

case "${1:-}" in
  run)
    shift
    apt_install "${RUN_APT[@]}"
    venv_install requirements.lock
    start_display "$@"
    exec .venv/bin/python server.py "$@"
    ;;
  test)
    shift
    apt_install "${RUN_APT[@]}" "${TEST_APT[@]}"
    venv_install requirements-dev.lock
    axe_install
    .venv/bin/ruff check .
    .venv/bin/python -m pytest "$@"
    [ $# -gt 0 ] || pi_screen_tests  # a whole run: the screens with the Pi's pygame too
    ;;
  lock)
    [ -x .venv/bin/uv ] || venv_install requirements-dev.lock
    lock requirements.txt requirements.lock
    # the tests run on the versions the hall runs: the runtime lock constrains the dev one
    lock requirements-dev.txt requirements-dev.lock --constraint requirements.lock
    ;;
  *)
    echo "usage: ./dev.sh run [server options] | ./dev.sh test [pytest options] | ./dev.sh lock" >&2
    exit 2
    ;;
esac
