#!/bin/sh
# Add a gate (or a site's collector) to the broker: its password and its ACL block.
#   add-gate.sh SITE GATE [ACL_FILE] [PASSWORD_FILE]      -> user SITE-GATE
#   add-gate.sh SITE --collector [ACL_FILE] [PASSWORD_FILE] -> user SITE-collector
# The password is read from standard input (one line), so it stays out of the shell
# history (mosquitto_passwd -b still sees it as an argument for a moment); put the same
# line in the gate's mqtt.password_file.
# Then: systemctl reload mosquitto.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 SITE GATE|--collector [ACL_FILE] [PASSWORD_FILE]" >&2; exit 2; }
site=$1 gate=$2
acl=${3:-/etc/mosquitto/kindergate.acl}
passwd=${4:-/etc/mosquitto/kindergate.passwd}
name_ok() { printf '%s' "$1" | grep -Eq '^[A-Za-z0-9_.-]{1,64}$'; }
name_ok "$site" || { echo "$0: bad site id: $site" >&2; exit 2; }
if [ "$gate" = "--collector" ]; then
  user="$site-collector"
  block="user $user
topic read kindergate/$site/+/event/#
topic read kindergate/$site/+/status
topic read kindergate/$site/+/state
topic write kindergate/$site/+/cmd/+
topic read kindergate/$site/+/cmd/+/reply"
else
  name_ok "$gate" || { echo "$0: bad gate id: $gate" >&2; exit 2; }
  user="$site-$gate"
  block="user $user
topic write kindergate/$site/$gate/event/#
topic write kindergate/$site/$gate/status
topic write kindergate/$site/$gate/state
topic read kindergate/$site/$gate/cmd/+
topic write kindergate/$site/$gate/cmd/+/reply"
fi
if [ -f "$acl" ] && grep -qx "user $user" "$acl"; then
  echo "$0: $user is already in $acl" >&2; exit 1
fi
IFS= read -r password
[ -n "$password" ] || { echo "$0: empty password" >&2; exit 2; }
if [ ! -f "$passwd" ]; then
  # Mosquitto 2.0 opens the file after dropping to its own user: group-readable by it only
  touch "$passwd"
  chmod 640 "$passwd"
  if getent group mosquitto >/dev/null 2>&1; then chgrp mosquitto "$passwd"; else chmod 600 "$passwd"; fi
fi
mosquitto_passwd -b "$passwd" "$user" "$password"
printf '\n%s\n' "$block" >> "$acl"
echo "added $user"
