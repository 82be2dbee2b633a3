#!/bin/sh
# A local Mosquitto for the hub's external-broker mode, set up as docs/scaling.md describes:
# the dynamic-security plugin with the hub's service account as its admin (the hub gives itself
# its topic role and provisions every other account). Used by the scale-out test and loadgen.
#
#   scripts/mosquitto-dev.sh DIR PORT HUB_USERNAME HUB_PASSWORD
#
# Listens on 127.0.0.1:PORT only, keeps its dynsec.json, config and log in DIR, and replaces
# this shell (exec), so killing the script's process stops the broker.
set -eu
dir=$1 port=$2 user=$3 password=$4
plugin=""
for candidate in /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so \
    /usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so \
    /usr/lib/arm-linux-gnueabihf/mosquitto_dynamic_security.so \
    /usr/lib/mosquitto_dynamic_security.so; do
    if [ -e "$candidate" ]; then plugin=$candidate; break; fi
done
if [ -z "$plugin" ]; then
    echo "mosquitto's dynamic-security plugin not found: apt-get install mosquitto" >&2
    exit 1
fi
mkdir -p "$dir"
if [ ! -e "$dir/dynsec.json" ]; then
    mosquitto_ctrl dynsec init "$dir/dynsec.json" "$user" "$password" >/dev/null
fi
cat >"$dir/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous false
# Stay the account that owns DIR (as root, mosquitto would switch to user mosquitto).
user $(id -un)
persistence false
plugin $plugin
plugin_opt_config_file $dir/dynsec.json
log_dest file $dir/mosquitto.log
log_type error
log_type warning
log_type notice
CONF
exec mosquitto -c "$dir/mosquitto.conf"
