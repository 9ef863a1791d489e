#!/usr/bin/env bash
# Persistent regions that no daemon will reattach:
#  - a half-written model region (a daemon SIGKILLed during LOAD) is
#    destroyed at the next start, and the next LOAD does not collide with it;
#  - two daemons never share one --state;
#  - `polyctl regions` lists a state's regions and whether a daemon holds it;
#    --remove reclaims an abandoned state and refuses a live one.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh
"$DC" mkmodel fixture "$T/fx.pnb" || fail "mkmodel"
"$DC" mkmodel nop:other:9 "$T/other.pnb" || fail "mkmodel other"
[ -d /dev/shm ] || { echo "skip: no /dev/shm"; exit 77; }
[ -e /dev/polynet ] && { echo "skip: the driver backend holds regions, not /dev/shm"; exit 77; }

start_daemon --workers 1
pctl load "$T/fx.pnb" >/dev/null || fail "load"
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
rm -f "$SOCK"
# what a LOAD leaves when the daemon dies mid-read: a persistent region, not indexed
dd if=/dev/urandom of="/dev/shm/polynet.$STATE.m2" bs=1M count=8 status=none
chmod 1600 "/dev/shm/polynet.$STATE.m2"
"$POLYCTL" regions >"$T/regions.txt" || fail "polyctl regions"
grep -q "^$STATE.m2 *gone" "$T/regions.txt" || fail "regions does not list the orphan: $(cat "$T/regions.txt")"
echo "ok: regions lists the abandoned state: $(grep "^$STATE" "$T/regions.txt" | tr -s ' ' | paste -sd';')"

start_daemon --workers 1
grep -q "region $STATE.m2: half-written by a LOAD that never finished" "$T/daemon.err" ||
	fail "the orphan was not reclaimed at start"
[ -e "/dev/shm/polynet.$STATE.m2" ] && fail "the orphan region is still in /dev/shm"
pctl list | grep -q fixture || fail "the indexed model was not reattached"
id=$(pctl load "$T/other.pnb" --json | sed 's/.*"id":\([0-9]*\).*/\1/') || fail "the next LOAD failed"
[ "$id" -gt 2 ] || fail "the next LOAD reused id $id"
echo "ok: orphan destroyed at start, next LOAD is id $id: $(grep reclaimed "$T/daemon.err")"

"$POLYCTL" regions | grep -q "^$STATE.index *live" || fail "regions does not see the live daemon"
"$POLYCTL" regions --remove "$STATE" 2>"$T/rm.err" && fail "regions --remove of a live state succeeded"
grep -q "holds this state now" "$T/rm.err" || fail "live refusal: $(cat "$T/rm.err")"
"$POLYNETD" --socket "$T/second.sock" --foreground --state "$STATE" >"$T/second.out" 2>&1 &
second=$!
for _ in $(seq 50); do kill -0 $second 2>/dev/null || break; sleep 0.1; done
kill -0 $second 2>/dev/null && { kill -KILL $second; fail "a second daemon started on the same --state"; }
grep -q "in use by another polynetd" "$T/second.out" || fail "second daemon: $(cat "$T/second.out")"
echo "ok: a second daemon on the state is refused: $(tail -1 "$T/second.out")"

stop_daemon
"$POLYCTL" regions --remove "$STATE" >"$T/rm.out" || fail "regions --remove: $(cat "$T/rm.out")"
ls /dev/shm/polynet."$STATE".* >/dev/null 2>&1 && fail "regions left after --remove: $(ls /dev/shm/polynet."$STATE".*)"
echo "ok: $(cat "$T/rm.out")"
echo "orphans: ok"
