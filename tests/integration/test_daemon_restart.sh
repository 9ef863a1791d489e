#!/usr/bin/env bash
# polynetd SIGKILLed with a client waiting: the client gets a clear error;
# a restarted daemon reattaches the persistent model regions without
# reading any file (the .pnb is deleted before the restart) and serves.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh

"$DC" mkmodel fixture "$T/ref.pnb" || fail "mkmodel fixture"
"$DC" mkmodel empty "$T/empty.pnb" || fail "mkmodel empty"
cp "$T/ref.pnb" "$T/fx.pnb"
start_daemon
pctl load "$T/fx.pnb" >/dev/null || fail "load fixture"
pctl load "$T/empty.pnb" >/dev/null || fail "load empty"
pctl load "$T/ref.pnb" --transient --json | grep -q '"shared":true' || fail "dedupe by hash"

"$DC" waitdeath "$SOCK" empty >"$T/wait.log" 2>&1 &
CLIENT_PIDS=$!
for _ in $(seq 50); do grep -q waiting "$T/wait.log" && break; sleep 0.1; done
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
wait "$CLIENT_PIDS" || fail "client after the daemon's death: $(cat "$T/wait.log")"
CLIENT_PIDS=
grep -q "polynetd went away" "$T/wait.log" || fail "no clear error: $(cat "$T/wait.log")"
echo "$(tail -n 1 "$T/wait.log")"

# the files are gone: only the persistent regions can bring the models back
rm -f "$T/fx.pnb" "$T/empty.pnb"
start_daemon
grep -q "models=2" "$T/daemon.out" || fail "ready line: $(cat "$T/daemon.out")"
pctl list --json | /usr/bin/python3 -c '
import json, sys
m = {x["name"]: x for x in json.load(sys.stdin)["models"]}
assert set(m) == {"fixture", "empty"}, m
assert all(x["reattached"] for x in m.values()), m' || fail "models not reattached"
grep -q "reattached from region .*no file read" "$T/daemon.err" || fail "daemon log"
"$DC" stress "$SOCK" fixture "$T/ref.pnb" 300 8 5 || fail "jobs after the restart"
echo "restart: models reattached from their regions, jobs correct"

# SIGTERM with a client connected: it is told, the daemon exits 0
"$DC" waitdeath "$SOCK" empty >"$T/wait2.log" 2>&1 &
CLIENT_PIDS=$!
for _ in $(seq 50); do grep -q waiting "$T/wait2.log" && break; sleep 0.1; done
stop_daemon
wait "$CLIENT_PIDS"; rc=$?
CLIENT_PIDS=
[ $rc -eq 0 ] || fail "client at SIGTERM: $(cat "$T/wait2.log")"
echo "SIGTERM: $(tail -n 1 "$T/wait2.log")"
echo "restart: ok"
