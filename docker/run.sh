#!/usr/bin/env bash
# Entry point of the mautrix-whatsapp container (installed as /docker-run.sh by the Dockerfile).
#
#   no $DATA_DIR/config.yaml        -> write the default config, say what to edit, exit
#   no $DATA_DIR/registration.yaml  -> generate it, say how to register it, exit
#   otherwise                       -> chown $DATA_DIR to UID:GID and run the bridge as UID:GID
#
# Environment:
#   DATA_DIR  the data folder (default /data): config, registration, SQLite database
#   UID, GID  who runs the bridge (default 1337; GID defaults to UID). Only used when started as
#             root: started as any other user, the bridge runs as that user and ownership is
#             left alone (so the script also runs outside Docker, as in the tests).
#   PYTHON    the interpreter that has mautrix_whatsapp installed (default python3)
# Extra arguments are passed to the bridge on the last step (e.g. --no-update).
set -euo pipefail

DATA_DIR="${DATA_DIR:-/data}"
PYTHON="${PYTHON:-python3}"
CONFIG="$DATA_DIR/config.yaml"
REGISTRATION="$DATA_DIR/registration.yaml"
# Read UID from the environment, not bash's own $UID (which is the current user when unset).
RUN_UID="$(printenv UID || echo 1337)"
RUN_GID="${GID:-$RUN_UID}"

die() {
	echo "docker-run: $*" >&2
	exit 1
}

[[ "$RUN_UID" =~ ^[0-9]+$ ]] || die "UID must be a number, not '$RUN_UID'"
[[ "$RUN_GID" =~ ^[0-9]+$ ]] || die "GID must be a number, not '$RUN_GID'"
[[ -d "$DATA_DIR" ]] || die "$DATA_DIR does not exist (mount a volume there)"

# The command prefix that runs a program as UID:GID (empty when not root).
as_user=()
if [[ "$EUID" -eq 0 ]]; then
	if command -v setpriv >/dev/null; then
		# --clear-groups, not --init-groups: UID 1337 has no passwd entry in the image.
		as_user=(setpriv "--reuid=$RUN_UID" "--regid=$RUN_GID" --clear-groups)
	elif command -v su-exec >/dev/null; then
		as_user=(su-exec "$RUN_UID:$RUN_GID")
	elif command -v gosu >/dev/null; then
		as_user=(gosu "$RUN_UID:$RUN_GID")
	else
		die "running as root but none of setpriv, su-exec or gosu is installed"
	fi
fi

fix_ownership() {
	if [[ "$EUID" -eq 0 ]]; then
		chown -R "$RUN_UID:$RUN_GID" "$DATA_DIR"
	fi
}

bridge() {
	"${as_user[@]}" "$PYTHON" -m mautrix_whatsapp -c "$CONFIG" -r "$REGISTRATION" "$@"
}

# Relative paths in the config (the default SQLite database) live in the data folder.
cd "$DATA_DIR"
fix_ownership

if [[ ! -f "$CONFIG" ]]; then
	# On its first run the bridge writes its default config; its own instructions are for
	# installs without Docker, so they are replaced by the ones below.
	bridge >/dev/null || die "the bridge could not write its default config (see above)"
	[[ -f "$CONFIG" ]] || die "the bridge did not write $CONFIG"
	echo "Didn't find a config file."
	echo "Copied default config file to $CONFIG"
	echo "Modify that config file to your liking."
	echo "Start the container again after that to generate the registration file."
	exit 0
fi

if [[ ! -f "$REGISTRATION" ]]; then
	if ! bridge -g; then
		die "could not generate the registration: fix $CONFIG as the bridge says above"
	fi
	[[ -f "$REGISTRATION" ]] || die "the bridge did not write $REGISTRATION"
	echo "Didn't find a registration file."
	echo "Generated one for you at $REGISTRATION"
	echo "Register it with your homeserver (Synapse: add it to app_service_config_files) and"
	echo "restart the homeserver, see"
	echo "https://docs.mau.fi/bridges/general/registering-appservices.html"
	echo "Then start the container again to run the bridge."
	exit 0
fi

exec "${as_user[@]}" "$PYTHON" -m mautrix_whatsapp -c "$CONFIG" -r "$REGISTRATION" "$@"
