#!/usr/bin/env bash
# Install one HallQ role on a Raspberry Pi (Raspberry Pi OS Bookworm, 64-bit), as root:
#
#   sudo systemd/install.sh server
#   sudo systemd/install.sh kiosk   --server http://hallq-server.local:8080 --token TOKEN
#   sudo systemd/install.sh display --server http://hallq-server.local:8080 --token TOKEN
#   sudo systemd/install.sh counter-box --window 3 --server URL --token TOKEN
#   sudo systemd/install.sh evaluator   --window 3 --server URL --token TOKEN
#   sudo systemd/install.sh kiosk --uninstall        # removes the program, keeps config and data
#   sudo systemd/install.sh region   # the company's server (Debian, beside its PostgreSQL)
#
# What it does: the apt packages the role needs, a `hallq` system user, the program in
# /opt/hallq/app with a virtual environment in /opt/hallq/venv, config in /etc/hallq/ (never
# overwritten once there), data in /var/lib/hallq/, the role's systemd unit (enabled and started),
# and for the kiosk a udev rule so `hallq` may write the USB receipt printer.
# Running it again changes nothing unless the program changed (then the service is restarted).
#
# Off a Pi (tests, packaging): --prefix DIR puts every path under DIR, and --no-systemctl skips
# everything that changes the system itself (apt, users, ownership, udev, systemctl, pip) and
# prints it instead.
set -euo pipefail

ROLES="server kiosk display counter-box evaluator region"
usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  echo "usage: install.sh {${ROLES// /|}} [--window N] [--server URL] [--token T]" \
       "[--prefix DIR] [--no-systemctl] [--uninstall]" >&2
  exit 2
}

ROLE="${1:-}"; [ -n "$ROLE" ] && shift || usage
case " $ROLES " in *" $ROLE "*) ;; *) echo "unknown role: $ROLE" >&2; usage ;; esac
PREFIX="" DRY=0 UNINSTALL=0 WINDOW="" SERVER_URL="" TOKEN=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$(realpath -m "${2:?--prefix needs a folder}")"; shift 2 ;;
    --no-systemctl) DRY=1; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --window) WINDOW="${2:?--window needs a number}"; shift 2 ;;
    --server) SERVER_URL="${2:?--server needs a URL}"; shift 2 ;;
    --token) TOKEN="${2:?--token needs a token}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "unknown option: $1" >&2; usage ;;
  esac
done
WINDOW_GIVEN="$WINDOW"
if [ -n "$WINDOW" ] && ! [[ "$WINDOW" =~ ^[0-9]+$ ]]; then
  echo "--window: a window number, e.g. 3" >&2; exit 2
fi
if [ "$DRY" = 0 ] && [ "$(id -u)" != 0 ]; then
  echo "run as root (sudo), or use --prefix DIR --no-systemctl for a dry run" >&2; exit 1
fi

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OPT="$PREFIX/opt/hallq"; APP="$OPT/app"; VENV="$OPT/venv"
ETC="$PREFIX/etc/hallq"; DATA="$PREFIX/var/lib/hallq"
UNITS="$PREFIX/etc/systemd/system"; UDEV="$PREFIX/etc/udev/rules.d"
UDEV_RULE="$UDEV/60-hallq-printer.rules"
USER_NAME=hallq
CHANGED=0

# -- the role ----------------------------------------------------------------------------------
case "$ROLE" in
  counter-box|evaluator)
    WINDOW="${WINDOW:-1}"
    TEMPLATE="hallq-$ROLE@.service"; UNIT="hallq-$ROLE@$WINDOW.service"
    ENV_FILE="$ETC/$ROLE-$WINDOW.env" ;;
  *)
    TEMPLATE="hallq-$ROLE.service"; UNIT="$TEMPLATE"; ENV_FILE="$ETC/$ROLE.env" ;;
esac
# No python3-pip: the venv brings its own pip (python3-venv), and Debian's python3-pip recommends
# a compiler and python3-dev (about 110 more packages) that no aarch64 wheel here needs.
COMMON_APT="python3-venv sqlite3 ca-certificates"
SCREEN_APT="python3-pygame libsdl2-2.0-0 libsdl2-ttf-2.0-0 libsdl2-image-2.0-0 libdrm2 libgbm1 fonts-noto-cjk fonts-wqy-zenhei"
case "$ROLE" in
  server)      APT=""; GROUPS_NEEDED="" ;;
  region)      APT=""; GROUPS_NEEDED="" ;;  # psycopg's wheel brings libpq
  kiosk)       APT="$SCREEN_APT libusb-1.0-0 python3-lgpio"; GROUPS_NEEDED="video render input lp dialout gpio" ;;
  display)     APT="$SCREEN_APT libsdl2-mixer-2.0-0 espeak-ng sox alsa-utils"; GROUPS_NEEDED="video render audio" ;;
  counter-box|evaluator) APT="python3-lgpio"; GROUPS_NEEDED="gpio" ;;
esac
# python3-lgpio is in Raspberry Pi OS's own archive, not in Debian's: on plain Debian Bookworm
# the venv takes PyPI's lgpio instead (its aarch64 wheel carries the C library).
LGPIO_PIP="lgpio==0.2.2.0"

# -- helpers -----------------------------------------------------------------------------------
say() { echo "hallq-install: $*"; }
# A command that changes the system itself: run it, or in a dry run only print it.
sys() {
  if [ "$DRY" = 1 ]; then say "would run: $*"; else "$@"; fi
}
changed() { CHANGED=1; say "$*"; }

# Copy SRC to DEST with MODE, only when the content or the mode differ.
put() {
  local src="$1" dest="$2" mode="$3"
  if [ -f "$dest" ] && cmp -s "$src" "$dest" && [ "$(stat -c %a "$dest")" = "$mode" ]; then
    return 0
  fi
  install -D -m "$mode" "$src" "$dest"
  changed "wrote $dest"
}

# Write stdin to DEST with MODE, only when different.
put_text() {
  local tmp; tmp="$(mktemp)"
  cat > "$tmp"
  put "$tmp" "$1" "$2"
  rm -f "$tmp"
}

make_dir() {  # DIR MODE [OWNER]
  if [ ! -d "$1" ]; then mkdir -p "$1"; changed "made $1"; fi
  [ "$(stat -c %a "$1")" = "$2" ] || { chmod "$2" "$1"; changed "mode $2 on $1"; }
  if [ -n "${3:-}" ]; then
    if [ "$DRY" = 1 ]; then say "would run: chown $3 $1"
    elif [ "$(stat -c %U:%G "$1")" != "$3" ]; then chown "$3" "$1"; changed "owner $3 on $1"; fi
  fi
}

# The unit with every path moved under the prefix.
render_unit() {
  sed -e "s#/opt/hallq#$OPT#g" -e "s#/etc/hallq#$ETC#g" -e "s#/var/lib/hallq#$DATA#g" "$1"
}

app_files() {
  (cd "$SRC" && {
    for f in server.py requirements.txt requirements.lock pyproject.toml; do
      if [ -f "$f" ]; then echo "$f"; fi
    done
    for d in hall web client kiosk display counter_terminal hardware region examples docs \
             systemd; do
      if [ -d "$d" ]; then find "$d" -type f ! -path '*/__pycache__/*' ! -name '*.pyc'; fi
    done
  } | LC_ALL=C sort)
}

apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$DRY" = 1 ]; then say "would run: apt-get install -y ${missing[*]}"; return 0; fi
  apt-get update -qq
  if [[ " ${missing[*]} " == *" python3-lgpio "* ]] && ! apt-cache show python3-lgpio \
      >/dev/null 2>&1; then
    local others=()
    for pkg in "${missing[@]}"; do [ "$pkg" = python3-lgpio ] || others+=("$pkg"); done
    missing=("${others[@]}")
    say "no python3-lgpio in this system's archive: $LGPIO_PIP from PyPI instead"
    [ ${#missing[@]} -eq 0 ] && return 0
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  changed "installed ${missing[*]}"
}

# -- uninstall ---------------------------------------------------------------------------------
uninstall() {
  local units=("$UNIT")
  if [ "$TEMPLATE" != "$UNIT" ] && [ -z "$WINDOW_GIVEN" ]; then  # every window's instance
    units=()
    for link in "$UNITS"/*.wants/"hallq-$ROLE"@*.service; do
      if [ -L "$link" ]; then units+=("$(basename "$link")"); fi
    done
  fi
  for unit in "${units[@]}"; do sys systemctl disable --now "$unit"; done
  if [ -f "$UNITS/$TEMPLATE" ] && { [ "$TEMPLATE" = "$UNIT" ] || [ -z "$WINDOW_GIVEN" ]; }; then
    rm -f "$UNITS/$TEMPLATE"; changed "removed $UNITS/$TEMPLATE"
  fi
  if [ "$ROLE" = kiosk ] || [ "$ROLE" = display ]; then
    sys systemctl enable getty@tty1.service  # the console's login prompt again
  fi
  if [ "$ROLE" = kiosk ] && [ -f "$UDEV_RULE" ]; then
    rm -f "$UDEV_RULE"; changed "removed $UDEV_RULE"
    sys udevadm control --reload
  fi
  sys systemctl daemon-reload
  if ! ls "$UNITS"/hallq-*.service >/dev/null 2>&1 && [ -d "$OPT" ]; then
    rm -rf "$OPT"; changed "removed $OPT (no HallQ role left on this machine)"
  fi
  say "kept the config in $ETC and the data in $DATA (delete them by hand if you mean to)"
}

# -- install -----------------------------------------------------------------------------------
install_role() {
  # shellcheck disable=SC2086  # the lists are words
  apt_install $COMMON_APT $APT

  if ! id "$USER_NAME" >/dev/null 2>&1; then
    sys useradd --system --user-group --home-dir /var/lib/hallq --no-create-home \
        --shell /usr/sbin/nologin --comment "HallQ queue system" "$USER_NAME"
  fi
  for group in $GROUPS_NEEDED; do  # a unit whose SupplementaryGroups= is missing won't start
    getent group "$group" >/dev/null 2>&1 || sys groupadd --system "$group"
  done

  make_dir "$OPT" 755
  make_dir "$ETC" 750 "root:$USER_NAME"
  make_dir "$DATA" 750 "$USER_NAME:$USER_NAME"
  if [ "$ROLE" = server ]; then make_dir "$DATA/backups" 750 "$USER_NAME:$USER_NAME"; fi

  # The program: copy what changed, remove what is gone.
  local wanted; wanted="$(mktemp)"
  app_files > "$wanted"
  while IFS= read -r f; do
    put "$SRC/$f" "$APP/$f" "$([ -x "$SRC/$f" ] && echo 755 || echo 644)"
  done < "$wanted"
  if [ -d "$APP" ]; then
    (cd "$APP" && find . -type f ! -path '*/__pycache__/*' | sed 's#^\./##' | LC_ALL=C sort) \
      | LC_ALL=C comm -23 - "$wanted" | while IFS= read -r old; do
          rm -f "$APP/$old"; changed "removed $APP/$old"
        done
    find "$APP" -mindepth 1 -type d -empty -delete
  fi
  rm -f "$wanted"

  # The virtual environment sees Debian's packages: python3-lgpio for GPIO, and python3-pygame,
  # whose SDL is built with KMS/DRM (pip's pygame wheels bundle an SDL without it), so pip does
  # not install pygame here. Everything else comes from requirements.lock: every package pinned,
  # with its hashes, so the Pi runs what was tested (pygame's entry, a line and its hash lines
  # ending in "\", is left out).
  if [ ! -x "$VENV/bin/python" ]; then
    if [ "$DRY" = 1 ]; then
      python3 -m venv --system-site-packages --without-pip "$VENV"
    else
      python3 -m venv --system-site-packages "$VENV"
    fi
    changed "made the virtual environment $VENV"
  fi
  awk 'tolower($0) ~ /^pygame==/ { skip = 1 } !skip { print } skip && !/\\$/ { skip = 0 }' \
    "$SRC/requirements.lock" | put_text "$OPT/requirements-pi.lock" 644
  local stamp="$OPT/.pip-installed"
  if ! cmp -s "$OPT/requirements-pi.lock" "$stamp" 2>/dev/null; then
    if [ "$DRY" = 1 ]; then
      say "would run: $VENV/bin/pip install --require-hashes -r $OPT/requirements-pi.lock"
    else
      "$VENV/bin/pip" install -q --require-hashes -r "$OPT/requirements-pi.lock"
      cp "$OPT/requirements-pi.lock" "$stamp"
      changed "installed the Python packages"
    fi
  fi
  install_program
  if [[ " $APT " == *" python3-lgpio "* ]] && [ "$DRY" = 0 ] \
      && ! "$VENV/bin/python" -c 'import lgpio' 2>/dev/null; then
    "$VENV/bin/pip" install -q "$LGPIO_PIP"
    changed "installed $LGPIO_PIP from PyPI"
  fi

  # Config: written once, then the hall's own.
  if [ "$ROLE" = server ] && [ ! -f "$ETC/hall.toml" ]; then
    install -m 640 "$SRC/examples/hall.toml" "$ETC/hall.toml"
    changed "wrote $ETC/hall.toml (edit it: services, windows, staff, device tokens)"
  fi
  if [ "$ROLE" = region ] && [ ! -f "$ETC/region.toml" ]; then
    write_region_config
  fi
  write_env_file
  for f in "$ETC/hall.toml" "$ETC/region.toml" "$ENV_FILE"; do
    if [ -f "$f" ]; then sys chown "root:$USER_NAME" "$f"; fi
  done

  if [ "$ROLE" = kiosk ]; then
    put_text "$UDEV_RULE" 644 <<'EOF'
# HallQ kiosk: the hallq user (group lp) may write USB receipt printers, both through the
# kernel's usblp driver (/dev/usb/lp*) and directly through libusb (python-escpos usb:VID:PID).
SUBSYSTEM=="usbmisc", KERNEL=="lp[0-9]*", GROUP="lp", MODE="0660"
SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ENV{ID_USB_INTERFACES}=="*:0701*", GROUP="lp", MODE="0660"
# A printer that calls itself vendor-specific (class ff): add its ids, e.g. for 0416:5011
# SUBSYSTEM=="usb", ATTRS{idVendor}=="0416", ATTRS{idProduct}=="5011", GROUP="lp", MODE="0660"
EOF
    sys udevadm control --reload
    sys udevadm trigger --subsystem-match=usb --subsystem-match=usbmisc
  fi

  if [ "$ROLE" = display ] && [ ! -f "$DATA/voice/manifest.toml" ]; then
    sys runuser -u "$USER_NAME" -- "$VENV/bin/hallq-voicepack" build "$DATA/voice"
  fi

  if [ "$ROLE" = region ]; then prepare_region_database; fi

  render_unit "$SRC/systemd/$TEMPLATE" | put_text "$UNITS/$TEMPLATE" 644
  sys systemctl daemon-reload
  if [ "$ROLE" = kiosk ] || [ "$ROLE" = display ]; then
    # The screen is the service's: no login prompt on tty1 at boot (the unit also stops it).
    sys systemctl disable getty@tty1.service
  fi
  sys systemctl enable "$UNIT"
  if [ "$CHANGED" = 1 ]; then
    sys systemctl restart "$UNIT"  # start it, or restart it on the new program
  else
    sys systemctl start "$UNIT"    # nothing changed: only make sure it runs
  fi
  if [ "$ROLE" = region ]; then region_next_steps; fi
}

# -- the region --------------------------------------------------------------------------------
write_region_config() {
  install -m 640 /dev/stdin "$ETC/region.toml" <<'EOF'
# HallQ region server (docs/region.md); after a change: sudo systemctl restart hallq-region
[region]
name = "区域中心 · Region"
listen = "127.0.0.1:8090"        # behind the company's reverse proxy (HTTPS)
# The company's PostgreSQL: here, its local socket and a database `hallq` owned by the
# PostgreSQL role `hallq` (peer authentication as the hallq system user). Another server:
# "host=db.example.com dbname=hallq user=hallq password=... sslmode=verify-full"
dsn = "postgresql:///hallq?host=/run/postgresql"
# public_url = "https://hallq.example.com"  # where browsers open it, if not on this host
timezone = "Asia/Shanghai"
pool_size = 8
silent_minutes = 10              # a hall with no contact this long is an alert
session_hours = 12               # a region user's login lasts this long
EOF
  changed "wrote $ETC/region.toml (check [region] dsn and listen)"
}

# The PostgreSQL role and database `hallq` on this machine's PostgreSQL, if it runs here and
# they are missing (a company DBA may have made them already, or the dsn points elsewhere);
# then the schema, as the hallq user.
prepare_region_database() {
  if grep -q '^dsn = "postgresql:///hallq?host=/run/postgresql"' "$ETC/region.toml" \
      && id postgres >/dev/null 2>&1; then
    if [ "$DRY" = 1 ] || ! runuser -u postgres -- psql -tAc \
        "SELECT 1 FROM pg_roles WHERE rolname = 'hallq'" 2>/dev/null | grep -q 1; then
      sys runuser -u postgres -- createuser hallq
    fi
    if [ "$DRY" = 1 ] || ! runuser -u postgres -- psql -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'hallq'" 2>/dev/null | grep -q 1; then
      sys runuser -u postgres -- createdb --owner hallq --encoding UTF8 hallq
    fi
  fi
  sys runuser -u "$USER_NAME" -- "$VENV/bin/hallq-region" migrate --config "$ETC/region.toml"
}

region_next_steps() {
  local listen
  listen="$(sed -n 's/^listen = "\([^"]*\)".*/\1/p' "$ETC/region.toml")"
  cat <<EOF
hallq-install: the region server listens on $listen ([region] listen in $ETC/region.toml).
hallq-install: next steps --
  1. The first regional admin (prints a generated password, shown once):
       sudo -u hallq $VENV/bin/hallq-region add-user YOUR-ID --admin --name "Your name" --config $ETC/region.toml
  2. A hall (prints its token, shown once; halls can also be added on the page /admin):
       sudo -u hallq $VENV/bin/hallq-region add-hall chengdong "城东营业厅" --config $ETC/region.toml
  3. In that hall's /etc/hallq/hall.toml:  [region] url = "https://...", hall_id = "chengdong", token = "..."
EOF
}

# HallQ itself, as a package into the venv (its dependencies are the lock's, installed above),
# built from a copy of the program folder so that no build files land in it. Again only when
# the program changed.
install_program() {
  local stamp="$OPT/.program-installed" sum
  sum="$(cd "$APP" && find . -type f ! -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z \
         | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
  [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ] && return 0
  if [ "$DRY" = 1 ]; then
    say "would run: $VENV/bin/pip install --no-deps --no-build-isolation $APP"
    return 0
  fi
  local build; build="$(mktemp -d)"
  cp -a "$APP/." "$build/"
  "$VENV/bin/pip" install -q --no-deps --no-build-isolation "$build"
  rm -rf "$build"
  echo "$sum" > "$stamp"
  changed "installed HallQ into $VENV (hallq-server, hallq-kiosk, ... in $VENV/bin)"
}

write_env_file() {
  local tmp; tmp="$(mktemp)"
  if [ -f "$ENV_FILE" ]; then
    cp "$ENV_FILE" "$tmp"
  elif [ "$ROLE" = server ]; then
    cat > "$tmp" <<'EOF'
# HallQ server options; after a change: sudo systemctl restart hallq-server
# --host 0.0.0.0 listens on the hall's network. More server processes on one Redis:
#   --message-queue redis://127.0.0.1:6379
# Nightly backups: --backup-at 02:30 --backup-keep 14 (into /var/lib/hallq/backups)
HALLQ_ARGS=--host 0.0.0.0 --port 8080
EOF
  elif [ "$ROLE" = region ]; then
    cat > "$tmp" <<'EOF'
# HallQ region server options; after a change: sudo systemctl restart hallq-region
# Where it listens is [region] listen in /etc/hallq/region.toml. More server processes on one
# Redis: --message-queue redis://127.0.0.1:6379 ; more threads for many browsers: --threads 64
HALLQ_ARGS=
EOF
  else
    local extra=""
    case "$ROLE" in
      kiosk) extra="--printer file:/dev/usb/lp0 --paper 80" ;;
      display) extra="" ;;
      *) extra="" ;;
    esac
    cat > "$tmp" <<EOF
# HallQ $ROLE${WINDOW:+ of window $WINDOW}; after a change: sudo systemctl restart $UNIT
# The server's address on the hall's network, and this device's token from the server's
# /etc/hallq/hall.toml ([[devices]] with role = "${ROLE/counter-box/counter}"${WINDOW:+, window = $WINDOW}).
HALLQ_SERVER=http://hallq-server.local:8080
HALLQ_TOKEN=REPLACE-ME
# More options of \`python -m ...\` (see docs/raspberry-pi.md), e.g. pins or the printer:
HALLQ_ARGS=$extra
EOF
  fi
  if [ -n "$SERVER_URL" ]; then sed -i "s#^HALLQ_SERVER=.*#HALLQ_SERVER=$SERVER_URL#" "$tmp"; fi
  if [ -n "$TOKEN" ]; then sed -i "s#^HALLQ_TOKEN=.*#HALLQ_TOKEN=$TOKEN#" "$tmp"; fi
  put "$tmp" "$ENV_FILE" 640
  rm -f "$tmp"
  if grep -q '^HALLQ_TOKEN=REPLACE-ME' "$ENV_FILE" 2>/dev/null; then
    say "set HALLQ_TOKEN in $ENV_FILE (or run again with --token T)"
  fi
}

if [ "$UNINSTALL" = 1 ]; then uninstall; else install_role; fi
if [ "$CHANGED" = 0 ]; then say "nothing to change: $ROLE is installed as it should be"; fi
