#!/usr/bin/env bash
# One tenant pipelining STAT requests as fast as its socket takes them does
# not stall the event loop: a victim connected before the flood and one
# connecting during it both get their HELLO answered while it still runs
# (issue 10, item 5: the loop once read one connection's requests until none
# was left, and the victims waited out the whole flood).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh

[ "$(id -u)" -eq 0 ] || { echo "skip: not root, the attacker runs as a second uid (runuser)"; exit 77; }
chmod 755 "$T"
start_daemon --workers 1
# latency samples make each STAT costly (percentiles over thousands of them)
"$DC" mkmodel fixture "$T/fx.pnb" || fail "mkmodel fixture"
pctl load "$T/fx.pnb" >/dev/null || fail "load fixture"
"$DC" stress "$SOCK" fixture "$T/fx.pnb" 4000 4 11 >"$T/stress.log" 2>&1 || fail "stress: $(cat "$T/stress.log")"
# connected now, its HELLO sent 3 s into the flood
"$DC" hello "$SOCK" 3 >"$T/old.log" 2>&1 &
old=$!
runuser -u nobody -- "$(nobody_bin "$DC")" statflood "$SOCK" 30 >"$T/flood.log" 2>&1 &
flood=$!
CLIENT_PIDS="$old $flood"
sleep 1
timeout 15 "$DC" hello "$SOCK" 0 >"$T/new.log" 2>&1 || fail "a new connection's HELLO was not answered during the flood: $(cat "$T/new.log")"
# the 15 s bound is far past 3 s and far short of the 30 s flood
timeout 15 tail --pid=$old -f /dev/null
kill -0 $old 2>/dev/null && fail "the connected victim's HELLO was not answered during the flood"
wait $old || fail "the connected victim: $(cat "$T/old.log")"
kill -0 $flood 2>/dev/null || fail "the flood ended before the victims were served: $(cat "$T/flood.log")"
kill $flood; wait $flood 2>/dev/null
CLIENT_PIDS=
kill -0 "$DAEMON_PID" || fail "polynetd died"
stop_daemon
echo "fairness: ok"
