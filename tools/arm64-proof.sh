#!/usr/bin/env bash
# Prove systemd/install.sh on Debian Bookworm arm64 (what Raspberry Pi OS is underneath), under
# qemu-user emulation, as root on a Debian machine:
#
#   sudo tools/arm64-proof.sh [--out DIR] [--fresh]
#
# It makes (once, then reuses) a Debian bookworm arm64 root with debootstrap, copies it, puts a
# `git archive` of HEAD in it (only committed files, as a Pi would get them), and inside it:
# installs the server and kiosk roles for real (apt, the hallq user, the venv, pip, the units;
# systemctl itself ignores start/restart in a chroot), starts the server the way its unit does,
# issues tickets with curl and with the kiosk's own code, and renders the kiosk's screens with
# Debian's python3-pygame to PNG files in --out. Prints PASS/FAIL with timings.
# On demand only, not in CI: the first run takes a quarter of an hour or more.
#
#   --out DIR   where the PNGs and logs go (default /var/tmp/hallq-arm64/out)
#   --fresh     make the debootstrap root again instead of reusing it
# The cache lives in $HALLQ_ARM64_CACHE (default /var/tmp/hallq-arm64).
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${HALLQ_ARM64_CACHE:-/var/tmp/hallq-arm64}"
BASE="$CACHE/bookworm-arm64"    # the debootstrap root, reused from run to run
ROOT="$CACHE/run"               # this run's copy of it, kept afterwards for a look inside
OUT="$CACHE/out"
FRESH=0
PORT=18080
KIOSK_TOKEN=demo-kiosk-1-token  # the demo hall's kiosk
APP_IN_ROOT=/home/pi/hallq      # where the operator copied HallQ to (docs/raspberry-pi.md)

while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$(realpath -m "${2:?--out needs a folder}")"; shift 2 ;;
    --fresh) FRESH=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run as root: debootstrap, chroot and mounts need it" >&2; exit 1; }

# -- reporting ---------------------------------------------------------------------------------
RESULTS=() FAILED=0 STARTED=$(date +%s.%N)
say() { echo "  $*"; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# step NAME COMMAND...: run one step and time it. Under set -e the first failing command ends
# the run; the EXIT trap then reports the step it was in as failed.
CURRENT="" T0=""
step() {
  CURRENT="$1" T0=$(date +%s.%N); shift
  echo "== $CURRENT"
  "$@"
  RESULTS+=("PASS  $(printf '%6s' "$(elapsed "$T0")") s  $CURRENT")
  CURRENT=""
}

summary() {
  if [ -n "$CURRENT" ]; then
    RESULTS+=("FAIL  $(printf '%6s' "$(elapsed "$T0")") s  $CURRENT")
    FAILED=1
  fi
  echo
  echo "== summary (arm64 Bookworm under qemu-user, $(elapsed "$STARTED") s in all)"
  printf '  %s\n' "${RESULTS[@]}"
  if [ "$FAILED" = 0 ] && [ ${#RESULTS[@]} -gt 0 ]; then
    echo "PASS: systemd/install.sh works on Debian Bookworm arm64 ($OUT)"
  else
    echo "FAIL: see above; logs in $OUT, the root in $ROOT"
  fi
}

# -- the arm64 root ----------------------------------------------------------------------------
in_root() {  # run a command inside the root, with a clean environment like a login's
  chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      HOME=/root LANG=C.UTF-8 TERM=dumb "${EXTRA_ENV[@]}" "$@"
}
# systemctl in a chroot enables units (links) and ignores daemon-reload, start and restart; it
# tells a chroot by /proc/1/root, which qemu-user may not let it read: say so outright.
EXTRA_ENV=(SYSTEMD_OFFLINE=1)

host_tools() {
  local missing=()
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ -x /usr/bin/qemu-aarch64-static ] || missing+=(qemu-user-static)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} (Debian packages)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
  say "$(debootstrap --version), $(/usr/bin/qemu-aarch64-static --version | head -1)"
}

# The kernel runs aarch64 programs through qemu: binfmt_misc with the F flag, so that the
# interpreter is opened now and found from inside the chroot too.
binfmt() {
  local dir=/proc/sys/fs/binfmt_misc entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
  local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
  mountpoint -q "$dir" || { mount -t binfmt_misc binfmt_misc "$dir"; say "mounted $dir"; }
  if [ -f "$entry" ] && ! grep -q '^flags:.*F' "$entry"; then
    echo -1 > "$entry"; say "qemu-aarch64 was registered without the F flag: registering again"
  fi
  if [ ! -f "$entry" ]; then
    grep -q ':[A-Z]*F[A-Z]*$' "$conf" || { echo "$conf has no F flag" >&2; return 1; }
    cat "$conf" > "$dir/register"; say "registered qemu-aarch64 from $conf"
  fi
  grep -q '^enabled' "$entry" || { echo "qemu-aarch64 is registered but disabled" >&2; return 1; }
  say "qemu-aarch64: $(grep -E '^(interpreter|flags)' "$entry" | tr '\n' ' ')"
}

mirror() {  # the host's Debian mirror
  awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources
}

base_root() {
  if [ "$FRESH" = 0 ] && [ -f "$BASE/.hallq-base-ok" ]; then
    say "reusing the debootstrap root $BASE (made $(cat "$BASE/.hallq-base-ok"); --fresh to redo)"
    return 0
  fi
  rm -rf "$BASE" "$BASE.tmp"
  say "debootstrap bookworm arm64 from $(mirror) into $BASE (slow: the second stage is emulated)"
  # What Raspberry Pi OS Lite has before HallQ: systemd, udev, python3, curl.
  debootstrap --arch=arm64 --variant=minbase \
      --include=systemd,systemd-sysv,udev,dbus,python3,curl,ca-certificates \
      bookworm "$BASE.tmp" "$(mirror)" > "$OUT/debootstrap.log" 2>&1 \
    || { tail -20 "$OUT/debootstrap.log"; return 1; }
  # The same suites as the host (updates and security too), from the same mirror.
  rm -f "$BASE.tmp/etc/apt/sources.list"
  cp /etc/apt/sources.list.d/debian.sources "$BASE.tmp/etc/apt/sources.list.d/"
  du -sh "$BASE.tmp" | awk '{ print "  root size: " $1 }'
  date -u +%FT%TZ > "$BASE.tmp/.hallq-base-ok"
  mv "$BASE.tmp" "$BASE"
}

MOUNTED=()
bind() {  # bind DIR-ON-HOST DIR-IN-ROOT
  mkdir -p "$2"
  mount --bind "$1" "$2"
  MOUNTED=("$2" "${MOUNTED[@]}")
}

unmount_all() {
  local dir
  for dir in "${MOUNTED[@]}"; do umount "$dir" 2>/dev/null || umount -l "$dir" || true; done
  MOUNTED=()
}

# A fresh copy of the base root for this run, so every run installs from scratch; apt's and
# pip's downloads are kept between runs.
run_root() {
  unmount_all
  if [ -d "$ROOT" ]; then
    findmnt -rn -o TARGET | grep -q "^$ROOT/" && { echo "$ROOT has mounts left" >&2; return 1; }
    rm -rf "$ROOT"
  fi
  cp -a --reflink=auto "$BASE" "$ROOT"
  mkdir -p "$CACHE/apt-archives/partial" "$CACHE/pip-cache"
  bind /proc "$ROOT/proc"
  bind /sys "$ROOT/sys"
  bind /dev "$ROOT/dev"
  bind /dev/pts "$ROOT/dev/pts"
  bind "$CACHE/apt-archives" "$ROOT/var/cache/apt/archives"
  bind "$CACHE/pip-cache" "$ROOT/root/.cache/pip"
  cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
  # A network that inspects TLS through its own CA: the root trusts it as the host does (pip
  # brings its own CA list, so it is told where the system's is). A Pi on a plain network
  # needs neither.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
    cat /usr/local/share/ca-certificates/*.crt >> "$ROOT/etc/ssl/certs/ca-certificates.crt"
    EXTRA_ENV+=(PIP_CERT=/etc/ssl/certs/ca-certificates.crt)
    say "copied the host's local CA certificates in (this network inspects TLS)"
  fi
  # udevadm tells a chroot by /proc/1/root too, and has no SYSTEMD_OFFLINE: where it cannot
  # tell, it stands in for it here. The Pi runs systemd-udevd; this chroot cannot.
  cat > "$ROOT/usr/local/sbin/udevadm" <<'EOF'
#!/bin/sh
case "$1" in control|trigger) echo "udevadm $*: skipped, no udevd in this chroot"; exit 0 ;; esac
exec /usr/bin/udevadm "$@"
EOF
  chmod 755 "$ROOT/usr/local/sbin/udevadm"
  mkdir -p "$ROOT$APP_IN_ROOT"
  git -C "$SRC" archive --format=tar HEAD | tar -x -C "$ROOT$APP_IN_ROOT"
  write_run_unit
  say "HallQ $(git -C "$SRC" log -1 --format='%h %s' HEAD | cut -c1-80)"
  say "copied as git archive HEAD to $APP_IN_ROOT ($(find "$ROOT$APP_IN_ROOT" -type f | wc -l) files)"
}

is_aarch64() {
  local machine python
  machine="$(in_root uname -m)"
  python="$(in_root python3 -c 'import platform, sys; print(platform.machine(), sys.version.split()[0])')"
  say "uname -m: $machine; python3: $python; Debian $(cat "$ROOT/etc/debian_version")"
  [ "$machine" = aarch64 ] && [ "${python%% *}" = aarch64 ]
}

# -- the install -------------------------------------------------------------------------------
# install.sh for real: --no-systemctl would skip apt, the user and pip as well, which are what
# this is here to prove. In a chroot systemctl enables (links) but ignores start and restart.
install_role() {
  local role="$1" log="$OUT/install-$1.log"; shift
  if in_root "$APP_IN_ROOT/systemd/install.sh" "$role" "$@" > "$log" 2>&1; then
    grep -E '^hallq-install:|Running in chroot|no udevd|^Created symlink.*hallq|^Removed' "$log" \
      | grep -v ': wrote /opt/hallq/app/' | sed 's/^/  /' | cut -c1-110
    say "(and wrote $(grep -c ': wrote /opt/hallq/app/' "$log") files of the program to" \
        "/opt/hallq/app; apt set up $(grep -c '^Setting up' "$log") packages; the whole" \
        "output: $log)"
  else
    tail -30 "$log" | sed 's/^/  | /'
    return 1
  fi
}

installed_as_a_pi_would_have_it() {
  local role="$1" unit="$2" link
  link="$(find "$ROOT/etc/systemd/system" -path "*.wants/$unit" | head -1)"
  [ -n "$link" ] || { echo "$unit is not enabled" >&2; return 1; }
  say "enabled: ${link#"$ROOT"}"
  in_root id hallq | sed 's/^/  /'
  [ -x "$ROOT/opt/hallq/venv/bin/python" ] || { echo "no venv" >&2; return 1; }
  say "venv: $(in_root /opt/hallq/venv/bin/python -c 'import sys; print(sys.prefix)')"
}

# Every compiled module the venv can load is an aarch64 ELF, and pygame is Debian's.
aarch64_builds() {
  in_root PYGAME_HIDE_SUPPORT_PROMPT=1 /opt/hallq/venv/bin/python - <<'EOF'
import importlib.metadata as md, pathlib, sys, sysconfig

AARCH64 = 183  # e_machine of an ELF file for ARM 64-bit
site = pathlib.Path(sysconfig.get_paths()["purelib"])
bad = []
wheels = []
for dist in sorted(md.distributions(), key=lambda d: d.metadata["Name"].lower()):
    files = [pathlib.Path(dist.locate_file(f)) for f in dist.files or []]
    libs = [f for f in files if f.suffix == ".so" or ".so." in f.name]
    for lib in libs:
        head = lib.read_bytes()[:20]
        if head[:4] != b"\x7fELF" or int.from_bytes(head[18:20], "little") != AARCH64:
            bad.append(str(lib))
    tags = [line.split(": ", 1)[1] for line in (dist.read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag: ")]
    if libs:
        wheels.append(f"{dist.metadata['Name']} {dist.version}: {len(libs)} aarch64 .so, "
                      f"{tags[0] if tags else 'no wheel tag'}")
print(f"  {sum(1 for _ in md.distributions(path=[str(site)]))} packages in the venv; "
      "with compiled code:")
for line in wheels:
    print("   ", line)
import pygame  # noqa: E402  the screen Pis use Debian's, built with KMS/DRM

print(f"  pygame {pygame.version.ver} (SDL {'.'.join(map(str, pygame.get_sdl_version()))}) "
      f"from {pathlib.Path(pygame.__file__).parent}")
for lib in pathlib.Path(pygame.__file__).parent.glob("*.so"):
    if int.from_bytes(lib.read_bytes()[18:20], "little") != AARCH64:
        bad.append(str(lib))
if not pygame.__file__.startswith("/usr/lib/python3/dist-packages/"):
    bad.append("pygame is not Debian's python3-pygame")
if bad:
    print("  not aarch64:", *bad, sep="\n    ")
sys.exit(1 if bad else 0)
EOF
}

# -- the server, run the way its unit runs it ---------------------------------------------------
# run-unit UNIT [VAR=VALUE ...] [-- ARGS]: the unit's ExecStart as its User=, in its
# WorkingDirectory=, with its Environment= and EnvironmentFile= (then VAR=VALUE over them).
write_run_unit() {
  cat > "$ROOT/usr/local/bin/run-unit" <<'EOF'
#!/bin/bash
# run-unit [--as] UNIT [VAR=VALUE ...] [-- ARGS]: the unit's ExecStart (with --as: ARGS as the
# command instead) as its User=, in its WorkingDirectory=, with its Environment= and
# EnvironmentFile= (then each VAR=VALUE over them), as systemd would start it.
set -euo pipefail
as=0; if [ "$1" = --as ]; then as=1; shift; fi
unit="/etc/systemd/system/$1"; shift
value() { sed -n "s/^$1=//p" "$unit"; }
for words in $(value Environment); do export "$words"; done
while IFS= read -r file; do
  file="${file#-}"
  [ -f "$file" ] || continue
  while IFS= read -r line; do
    case "$line" in ''|'#'*) ;; *=*) export "$line" ;; esac
  done < "$file"
done < <(value EnvironmentFile)
while [ $# -gt 0 ] && [ "$1" != -- ]; do export "$1"; shift; done
[ "${1:-}" = -- ] && shift
cd "$(value WorkingDirectory)"
if [ "$as" = 1 ]; then exec runuser -u "$(value User)" -- "$@"; fi
exec runuser -u "$(value User)" -- bash -c "exec $(value ExecStart) \"\$@\"" unit "$@"
EOF
  chmod 755 "$ROOT/usr/local/bin/run-unit"
}

SERVER_PID=""
start_server() {
  # The operator's edits after install (docs/raspberry-pi.md): the demo hall, open at every
  # hour, so that a ticket can be issued whenever this runs; loopback only.
  cp "$ROOT/opt/hallq/app/hall/demo_hall.toml" "$ROOT/etc/hallq/hall.toml"
  sed -i "s/^HALLQ_ARGS=.*/HALLQ_ARGS=--host 127.0.0.1 --port $PORT/" "$ROOT/etc/hallq/server.env"
  say "ExecStart: $(sed -n 's/^ExecStart=//p' "$ROOT/etc/systemd/system/hallq-server.service")"
  setsid chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      LANG=C.UTF-8 \
      run-unit hallq-server.service > "$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  local t0; t0=$(date +%s.%N)
  for _ in $(seq 1200); do
    if in_root curl -fsS "http://127.0.0.1:$PORT/healthz" > "$OUT/healthz.json" 2>/dev/null; then
      say "answered /healthz after $(elapsed "$t0") s: $(cut -c1-90 "$OUT/healthz.json")"
      say "runs as uid $(ps -o uid= -p "$(pgrep -n -s "$SERVER_PID")" | tr -d ' ')" \
          "(hallq is uid $(in_root id -u hallq) in the root)"
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$OUT/server.log"; return 1; }
    sleep 0.1
  done
  tail -20 "$OUT/server.log"
  return 1
}

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 200); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

issue_with_curl() {
  local answer
  answer="$(in_root curl -sS -w '\nHTTP %{http_code}' -X POST \
      -H "Authorization: Bearer $KIOSK_TOKEN" -H 'Content-Type: application/json' \
      -d '{"service": "pay"}' "http://127.0.0.1:$PORT/api/v1/tickets")"
  say "POST /api/v1/tickets: $(echo "$answer" | head -1 | cut -c1-100)"
  say "$(echo "$answer" | tail -1)"
  [ "$(echo "$answer" | tail -1)" = "HTTP 201" ]
}

# -- the kiosk ---------------------------------------------------------------------------------
# The kiosk program as its unit starts it, with no screen and no printer here: SDL's dummy
# driver, python-escpos's Dummy printer, and --screenshot instead of the event loop.
kiosk_home_screen() {
  in_root run-unit hallq-kiosk.service SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy \
      "HALLQ_ARGS=--printer dummy --paper 80" -- --screenshot /tmp/kiosk-home.png --wait 60 \
      > "$OUT/kiosk-home.log" 2>&1 || { tail -20 "$OUT/kiosk-home.log"; return 1; }
  grep -v '^pygame \|^Hello from the pygame' "$OUT/kiosk-home.log" | sed 's/^/  /' | cut -c1-110
  copy_out kiosk-home.png
}

# The kiosk's own path to a ticket: a tap on a service, the ticket printed on python-escpos's
# Dummy printer, then the ticket screen, all through the installed program's code with Debian's
# pygame (as tests/test_kiosk.py renders a KioskView).
kiosk_ticket_screen() {
  ticket_program | in_root run-unit --as hallq-kiosk.service SDL_VIDEODRIVER=dummy \
      SDL_AUDIODRIVER=dummy -- /opt/hallq/venv/bin/python - > "$OUT/kiosk-ticket.log" 2>&1 \
    || { tail -20 "$OUT/kiosk-ticket.log"; return 1; }
  grep -E '^(issued|saved)' "$OUT/kiosk-ticket.log" | sed 's/^/  /'
  copy_out kiosk-ticket.png
}

ticket_program() {
  cat <<'EOF'
import os
import time

import pygame
from escpos.printer import Dummy

from hardware.printer import TicketPrinter
from kiosk.kiosk import Kiosk
from kiosk.screen import Screen

device = Dummy()
kiosk = Kiosk(os.environ["HALLQ_SERVER"], os.environ["HALLQ_TOKEN"],
              TicketPrinter(device, width_mm=80))
kiosk.start(watch_printer=False)
try:
    deadline = time.monotonic() + 60
    while not (kiosk.live.connected and kiosk.live.state) and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    assert kiosk.request_ticket("pay", "normal"), kiosk.view()
    while kiosk.busy and time.monotonic() < deadline:
        time.sleep(0.05)
    ticket = kiosk.issued[-1]
    print(f"issued {ticket['number']} in {time.monotonic() - started:.2f} s, "
          f"{ticket['ahead']} ahead; printed {len(device.output)} ESC/POS bytes")
    surface = pygame.Surface((1280, 720))
    Screen().draw(surface, kiosk.view())
    pygame.image.save(surface, "/tmp/kiosk-ticket.png")
    print(f"saved /tmp/kiosk-ticket.png ({kiosk.view().screen})")
finally:
    kiosk.stop()
EOF
}

copy_out() {
  cp "$ROOT/tmp/$1" "$OUT/$1"
  say "$OUT/$1: $(python3 -c 'import struct, sys; d = open(sys.argv[1], "rb").read(24); print("%dx%d PNG" % struct.unpack(">II", d[16:24]))' "$OUT/$1")"
}

cleanup() {
  stop_server
  unmount_all
  summary
}

# -- the run -----------------------------------------------------------------------------------
mkdir -p "$OUT"
rm -f "$OUT"/*.png "$OUT"/*.log "$OUT"/*.json
trap cleanup EXIT
step "host: debootstrap and qemu-user-static" host_tools
step "host: binfmt_misc runs aarch64 programs through qemu" binfmt
step "Debian bookworm arm64 root (debootstrap)" base_root
step "this run's root, with HallQ as git archive HEAD" run_root
step "inside: uname -m and python3 say aarch64" is_aarch64
step "install.sh server" install_role server
step "server installed as on a Pi (user, venv, unit enabled)" \
    installed_as_a_pi_would_have_it server hallq-server.service
step "install.sh kiosk --server URL --token T" \
    install_role kiosk --server "http://127.0.0.1:$PORT" --token "$KIOSK_TOKEN"
step "kiosk installed as on a Pi" installed_as_a_pi_would_have_it kiosk hallq-kiosk.service
step "the venv's compiled packages are aarch64 builds, pygame is Debian's" aarch64_builds
step "server started as its unit's ExecStart, on loopback" start_server
step "a ticket issued with curl" issue_with_curl
step "kiosk program renders its home screen (Debian pygame)" kiosk_home_screen
step "kiosk issues, prints and shows a ticket" kiosk_ticket_screen
