#!/usr/bin/env bash
# Real client processes against one polynetd:
#  - 64 concurrent clients, each many jobs, every job completes once with
#    the in-process executor's result (daemon_client stress checks it);
#  - clients SIGKILLed with jobs in flight: the daemon goes on, their
#    sessions are reaped, its fd count and shared memory return to baseline;
#  - a client that never reaps: the full rings push back, no job is lost.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh

"$DC" mkmodel fixture "$T/fx.pnb" || fail "mkmodel fixture"
"$DC" mkmodel empty "$T/empty.pnb" || fail "mkmodel empty"
start_daemon --workers 2	# two workers: concurrent drains and completions
pctl load "$T/fx.pnb" >/dev/null || fail "load fixture"
pctl load "$T/empty.pnb" >/dev/null || fail "load empty"

# baseline after one session came and went (lazy executors and maps exist then)
"$DC" stress "$SOCK" fixture "$T/fx.pnb" 50 4 1 || fail "warm-up"
sleep 0.2
fds0=$(ls /proc/"$DAEMON_PID"/fd | wc -l)
shm0=$(awk '/^RssShmem/ {print $2}' /proc/"$DAEMON_PID"/status)

pids=()
for i in $(seq 64); do
	"$DC" stress "$SOCK" fixture "$T/fx.pnb" 150 4 "$i" >"$T/c$i.log" 2>&1 &
	pids+=($!)
done
bad=0
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || { bad=$((bad + 1)); sed 's/^/  client| /' "$T/c$((i + 1)).log"; }
done
[ $bad -eq 0 ] || fail "$bad of 64 clients saw a wrong, missing or duplicate completion"
echo "64 clients x 150 jobs: every job completed once with the in-process result"

# clients killed mid-job
CLIENT_PIDS=
for i in $(seq 8); do
	"$DC" hang "$SOCK" empty >"$T/h$i.log" 2>&1 &
	CLIENT_PIDS="$CLIENT_PIDS $!"
done
for _ in $(seq 50); do
	[ "$(grep -l hanging "$T"/h*.log 2>/dev/null | wc -l)" -eq 8 ] && break
	sleep 0.1
done
sleep 0.3
sessions=$(pctl stat --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"]["sessions"])')
[ "$sessions" -ge 8 ] || fail "expected the 8 hanging sessions, stat says $sessions"
for p in $CLIENT_PIDS; do kill -KILL "$p"; done
for p in $CLIENT_PIDS; do wait "$p" 2>/dev/null; done
CLIENT_PIDS=
ok=0
for _ in $(seq 50); do
	s=$(pctl stat --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"]["sessions"])')
	fds=$(ls /proc/"$DAEMON_PID"/fd | wc -l)
	shm=$(awk '/^RssShmem/ {print $2}' /proc/"$DAEMON_PID"/status)
	# the stat connection itself is gone by now: fds must equal the baseline
	if [ "$s" -eq 0 ] && [ "$fds" -eq "$fds0" ] && [ "$shm" -le "$shm0" ]; then ok=1; break; fi
	sleep 0.1
done
[ $ok -eq 1 ] || fail "after SIGKILLed clients: sessions $s, fds $fds (baseline $fds0), shmem ${shm}kB (baseline ${shm0}kB)"
kill -0 "$DAEMON_PID" || fail "polynetd died with its clients"
echo "8 clients SIGKILLed mid-job: sessions reaped, fds $fds = $fds0, shmem ${shm}kB <= ${shm0}kB"
"$DC" stress "$SOCK" fixture "$T/fx.pnb" 100 4 99 || fail "serving after the kills"

"$DC" flood "$SOCK" empty 20000 || fail "back-pressure"
stop_daemon
echo "clients: ok"
