#!/bin/bash
# Install KinderGate on this machine (or into a staging root): `make install` runs this.
#
#   systemd/install.sh [--role gate|collector|all] [--prefix DIR] [--destdir DIR]
#                      [--new-key] [--no-venv]
#
# Idempotent: run it again to upgrade. It never overwrites a config or a key.
#  - the user `kindergate` and its device groups (systemd-sysusers)
#  - /var/lib/kindergate 0700, /etc/kindergate, modes of config and keys (systemd-tmpfiles)
#  - the example config, copied once; with --new-key a new site key (first gate of a site)
#  - the code in a fresh venv under PREFIX, switched in by one symlink (the old one stays,
#    for a rollback)
#  - the units, enabled; a running daemon is restarted on the new code
# With DESTDIR (or --destdir) everything goes under that root and nothing on this
# machine changes: no venv is built there (a venv cannot be moved), no service restarted.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=/opt/kindergate
DESTDIR=${DESTDIR:-}
ROLE=gate
NEW_KEY=0
BUILD_VENV=1

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
say() { echo "install: $*"; }
have() { command -v "$1" >/dev/null 2>&1; }

while [ $# -gt 0 ]; do
  case $1 in
    --prefix) PREFIX=${2:?}; shift 2 ;;
    --prefix=*) PREFIX=${1#*=}; shift ;;
    --destdir) DESTDIR=${2:?}; shift 2 ;;
    --destdir=*) DESTDIR=${1#*=}; shift ;;
    --role) ROLE=${2:?}; shift 2 ;;
    --role=*) ROLE=${1#*=}; shift ;;
    --new-key) NEW_KEY=1; shift ;;
    --no-venv) BUILD_VENV=0; shift ;;
    -h|--help) usage ;;
    *) echo "install: unknown option $1" >&2; usage ;;
  esac
done
case $ROLE in gate|collector|all) ;; *) echo "install: --role gate|collector|all" >&2; exit 2 ;; esac
case $PREFIX in /*) ;; *) echo "install: --prefix must be absolute" >&2; exit 2 ;; esac
if [ -z "$DESTDIR" ] && [ "$(id -u)" != 0 ]; then
  echo "install: run as root (sudo make install), or stage with DESTDIR=..." >&2
  exit 1
fi
D=${DESTDIR%/}
ROOT=()
[ -n "$D" ] && ROOT=(--root="$D")
gate() { [ "$ROLE" != collector ]; }
collector() { [ "$ROLE" != gate ]; }

users() {
  install -d -m 0755 "$D/etc" "$D/etc/sysusers.d"
  install -m 0644 "$SRC/systemd/kindergate.sysusers" "$D/etc/sysusers.d/kindergate.conf"
  if have systemd-sysusers; then
    systemd-sysusers "${ROOT[@]}" "$D/etc/sysusers.d/kindergate.conf"
  elif [ -z "$D" ]; then
    for g in gpio dialout input video; do getent group "$g" >/dev/null || groupadd -r "$g"; done
    id -u kindergate >/dev/null 2>&1 || useradd -r -d /var/lib/kindergate \
      -s /usr/sbin/nologin -c "KinderGate gate controller" kindergate
    usermod -a -G gpio,dialout,input,video kindergate
  else
    say "no systemd-sysusers here: the user is created when the target boots"
  fi
}

copy_once() {  # src dst mode: a file the site edits is never overwritten
  if [ -e "$2" ]; then
    say "kept $2"
  else
    install -m "$3" "$1" "$2"
    say "installed $2 (edit it)"
  fi
}

files() {
  install -d -m 0755 "$D$PREFIX" "$D$PREFIX/share" "$D$PREFIX/share/docs" "$D/etc/kindergate"
  install -m 0644 "$SRC"/systemd/*.example.toml "$D$PREFIX/share/"
  [ -f "$SRC/docs/operations.md" ] && install -m 0644 "$SRC/docs/operations.md" "$D$PREFIX/share/docs/"
  gate && copy_once "$SRC/systemd/gate.example.toml" "$D/etc/kindergate/gate.toml" 0640
  collector && copy_once "$SRC/systemd/collector.example.toml" "$D/etc/kindergate/collector.toml" 0640
  if [ "$NEW_KEY" = 1 ]; then
    if [ -e "$D/etc/kindergate/site.key" ]; then
      say "kept the existing site key"
    else
      (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$D/etc/kindergate/site.key")
      say "new site key in /etc/kindergate/site.key: copy it to the office and every gate"
    fi
  fi
  install -d -m 0755 "$D/etc/tmpfiles.d"
  install -m 0644 "$SRC/systemd/kindergate.tmpfiles" "$D/etc/tmpfiles.d/kindergate.conf"
  if have systemd-tmpfiles; then
    systemd-tmpfiles --create "${ROOT[@]}" "$D/etc/tmpfiles.d/kindergate.conf"
  else
    install -d -m 0700 "$D/var/lib/kindergate" "$D/var/lib/kindergate/roster" "$D/var/lib/kindergate/backups"
    for f in "$D"/etc/kindergate/*.toml; do [ -e "$f" ] && chmod 0640 "$f"; done
    [ -e "$D/etc/kindergate/site.key" ] && chmod 0600 "$D/etc/kindergate/site.key"
    say "no systemd-tmpfiles here: owners are set when the target boots"
  fi
}

units() {
  install -d -m 0755 "$D/etc/systemd/system" "$D/etc/udev/rules.d"
  local unit
  for unit in kindergate.service kindergate-collector.service kindergate-purge.service kindergate-purge.timer; do
    sed "s#/opt/kindergate#$PREFIX#g" "$SRC/systemd/$unit" >"$D/etc/systemd/system/$unit.new"
    chmod 0644 "$D/etc/systemd/system/$unit.new"
    mv -f "$D/etc/systemd/system/$unit.new" "$D/etc/systemd/system/$unit"
  done
  if gate; then
    install -m 0644 "$SRC/systemd/60-kindergate-gpio.rules" "$D/etc/udev/rules.d/"
    if [ -z "$D" ] && have udevadm; then
      udevadm control --reload 2>/dev/null && udevadm trigger --subsystem-match=gpio 2>/dev/null || true
    fi
  fi
}

venv() {
  install -d -m 0755 "$D/usr/local/bin"
  ln -sfn "$PREFIX/venv/bin/kindergate" "$D/usr/local/bin/kindergate"
  if [ "$BUILD_VENV" = 0 ]; then say "--no-venv: code not installed"; return; fi
  if [ -n "$D" ]; then say "staging root: no venv built (build it on the target)"; return; fi
  local stamp new
  stamp=$(date +%Y%m%d%H%M%S)
  new="$PREFIX/venv-$stamp"
  python3 -m venv "$new"
  "$new/bin/pip" install --quiet --disable-pip-version-check "$SRC"
  "$new/bin/kindergate" --help >/dev/null  # the new code at least starts
  ln -sfn "venv-$stamp" "$PREFIX/venv.next"
  mv -T "$PREFIX/venv.next" "$PREFIX/venv"
  say "code installed in $new (previous venvs kept for a rollback)"
  # keep the newest three
  ls -1d "$PREFIX"/venv-* | sort | head -n -3 | xargs -r rm -rf
}

enable() {
  local units=()
  gate && units+=(kindergate.service kindergate-purge.timer)
  collector && units+=(kindergate-collector.service)
  if ! have systemctl; then say "no systemctl: enable ${units[*]} yourself"; return; fi
  if [ -n "$D" ] || [ ! -d /run/systemd/system ]; then
    systemctl --root="${D:-/}" enable "${units[@]}"
    return
  fi
  systemctl daemon-reload
  systemctl enable "${units[@]}"
  gate && systemctl start kindergate-purge.timer
  # An upgrade: a running service moves to the new code (the lock goes safe meanwhile).
  systemctl try-restart kindergate.service kindergate-collector.service
}

users
files
units
venv
enable
say "done. Next: docs/operations.md, 'Install' (key, roster, doctor, start)."
