#!/usr/bin/env bash
# Malformed control messages and SQEs get errors (that connection or session
# only), a scribbled ring breaks only its own session, and one tenant cannot
# unload another's model; the daemon keeps serving everyone throughout.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh

"$DC" mkmodel fixture "$T/fx.pnb" || fail "mkmodel fixture"
"$DC" mkmodel empty "$T/empty.pnb" || fail "mkmodel empty"
start_daemon
pctl load "$T/fx.pnb" >/dev/null || fail "load fixture"
pctl load "$T/empty.pnb" >/dev/null || fail "load empty"

# a well-behaved client runs throughout
"$DC" stress "$SOCK" fixture "$T/fx.pnb" 3000 4 11 >"$T/good.log" 2>&1 &
good=$!
CLIENT_PIDS=$good
"$DC" malformed "$SOCK" empty || fail "malformed messages"
if [ "$(id -u)" -eq 0 ]; then
	chmod 755 "$T"
	"$DC" tenant "$SOCK" empty 65534 || fail "tenant isolation"
else
	echo "note: not root, the second-tenant check was not run"
fi
wait $good || fail "the well-behaved client: $(cat "$T/good.log")"
CLIENT_PIDS=
kill -0 "$DAEMON_PID" || fail "polynetd died"
stop_daemon
echo "malformed: ok"
