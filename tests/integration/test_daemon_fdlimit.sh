#!/usr/bin/env bash
# File descriptors (issue 10, item 8). At the fd limit polynetd backs off
# instead of spinning on accept: a client holding hundreds of connections
# against a daemon under `ulimit -n 64` leaves its log a few lines long and
# its CPU time low, and once the hog lets go a new connection is served (it
# once logged "accept: Too many open files" millions of times, one core
# busy). And --max-conns-per-uid refuses a uid's connection past the limit,
# naming it, while another uid still connects.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh

[ "$(id -u)" -eq 0 ] || { echo "skip: not root, the second-uid check needs runuser"; exit 77; }
chmod 755 "$T"
real=$POLYNETD
printf '#!/bin/sh\nulimit -n 64\nexec "%s" "$@"\n' "$(realpath "$real")" >"$T/polynetd64"
chmod +x "$T/polynetd64"
POLYNETD=$T/polynetd64
start_daemon --workers 1
ticks() { awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat"; }
"$DC" hog "$SOCK" 300 8 >"$T/hog.log" 2>&1 &
hog=$!
CLIENT_PIDS=$hog
sleep 2
t0=$(ticks)
sleep 4
t1=$(ticks)
kill -0 $hog 2>/dev/null || fail "the hog ended early: $(cat "$T/hog.log")"
# a spinning accept takes ~4 s of CPU here; backing off takes next to none
hz=$(getconf CLK_TCK)
[ $((t1 - t0)) -lt $((hz * 3 / 2)) ] || fail "polynetd used $((t1 - t0)) ticks of CPU in 4 s at the fd limit (spinning?)"
lines=$(wc -l <"$T/daemon.err")
[ "$lines" -lt 40 ] || fail "polynetd logged $lines lines at the fd limit, expected a few"
grep -q "accept: Too many open files" "$T/daemon.err" || fail "the fd limit was never reached (or not logged)"
wait $hog
CLIENT_PIDS=
timeout 15 "$DC" hello "$SOCK" 0 >/dev/null || fail "no new connection served after the hog closed its own"
stop_daemon
echo "  fd limit: $(cat "$T/hog.log"), $((t1 - t0)) ticks of CPU in 4 s, $lines log lines"

# the per-uid limit: root's 4th connection refused, uid nobody's first served
POLYNETD=$real
start_daemon --workers 1 --max-conns-per-uid 3
"$DC" connlimit "$SOCK" 3 30 >"$T/limit.log" 2>&1 &
lim=$!
CLIENT_PIDS=$lim
for _ in $(seq 150); do
	grep -q refused "$T/limit.log" && break
	kill -0 $lim 2>/dev/null || fail "connlimit: $(cat "$T/limit.log")"
	sleep 0.1
done
grep -q refused "$T/limit.log" || fail "connlimit: no refusal within 15 s"
# polyctl (the client library) shows the daemon's refusal line, not a protocol error
timeout 15 "$POLYCTL" list --socket "$SOCK" >/dev/null 2>"$T/ctl.err" && fail "polyctl got past the limit"
grep -q "connections open, expected at most 3" "$T/ctl.err" || fail "polyctl's refusal: $(cat "$T/ctl.err")"
timeout 15 runuser -u nobody -- "$(nobody_bin "$DC")" hello "$SOCK" 0 >"$T/other.log" 2>&1 ||
	fail "another uid was refused while root was at its limit: $(cat "$T/other.log")"
kill $lim; wait $lim 2>/dev/null
CLIENT_PIDS=
# root's connections closed: it may connect again
ok=
for _ in $(seq 50); do
	timeout 15 "$DC" hello "$SOCK" 0 >/dev/null 2>&1 && { ok=1; break; }
	sleep 0.1
done
[ -n "$ok" ] || fail "root was still refused after closing its connections"
echo "  $(cat "$T/limit.log")"
stop_daemon
echo "fdlimit: ok"
