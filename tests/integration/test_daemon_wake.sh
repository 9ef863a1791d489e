#!/usr/bin/env bash
# Wake-ups through io_uring (issue 11), with the real daemon and real
# client processes:
#  - sleeping jobs (the worker asleep between them) complete on the futex
#    path, on the eventfd path forced by polynetd --wake eventfd, and on
#    the eventfd path a client asks for (PN_WAKE=eventfd), every wait mode;
#  - a full ring with batched submits: every job completes once;
#  - a client SIGKILLed with jobs in flight: the daemon serves the next one;
#  - a client that scribbles its doorbell and completion words: the daemon
#    mutes that doorbell, stays up, and serves another client meanwhile.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh
WC=$B/rel/tests/wake_client
[ -x "$WC" ] || { echo "skip: $WC not built (make build)"; exit 77; }
"$DC" mkmodel fixture "$T/fx.pnb" || fail "mkmodel"

# GAP 300 us > --idle-spin-us 50: the worker sleeps before each job
run_jobs() {	# expected-mode wait [env...]
	local mode=$1 w=$2
	shift 2
	env "$@" "$WC" jobs "$SOCK" fixture 200 "$w" 300 "$mode" >"$T/jobs.out" 2>&1 ||
		fail "$w jobs, $mode wake-ups: $(cat "$T/jobs.out")"
	echo "ok: $(cat "$T/jobs.out")"
}

start_daemon --workers 1 --idle-spin-us 50
pctl load "$T/fx.pnb" >/dev/null || fail "load"
if grep -q 'wake=futex' "$T/daemon.out"; then
	FUTEX=futex
	for w in sleep uring adaptive spin; do run_jobs futex $w; done
	run_jobs eventfd sleep PN_WAKE=eventfd
	run_jobs eventfd uring PN_WAKE=eventfd
else
	FUTEX=
	# io_uring has had FUTEX_WAIT/WAKE since 6.7: there the probe must find them
	kv=$(uname -r | awk -F. '{ print $1 * 1000 + $2 }')
	[ "$kv" -ge 6007 ] && [ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" = 0 ] &&
		fail "Linux $(uname -r) has io_uring futex ops, the daemon chose $(grep -o 'wake=[a-z]*' "$T/daemon.out")"
	echo "note: this kernel's io_uring has no futex ops: the futex path is not run"
fi

"$WC" batch "$SOCK" fixture 20000 >"$T/batch.out" 2>&1 || fail "batch: $(cat "$T/batch.out")"
echo "ok: $(cat "$T/batch.out")"

# a client dies with jobs in flight (and its CQ full): the next client is served
"$DC" hang "$SOCK" fixture >"$T/hang.out" 2>&1 &
hp=$!
CLIENT_PIDS=$hp
for _ in $(seq 50); do grep -q hanging "$T/hang.out" && break; sleep 0.1; done
sleep 0.3
kill -KILL $hp; wait $hp 2>/dev/null
CLIENT_PIDS=
run_jobs "${FUTEX:-eventfd}" sleep
for _ in $(seq 50); do
	pctl stat --json | grep -q '"sessions":0' && break
	sleep 0.1
done
pctl stat --json | grep -q '"sessions":0' || fail "the dead client's session was not reaped"
echo "ok: a client SIGKILLed mid-job was reaped, the next one served"

if [ -n "$FUTEX" ]; then
	"$WC" scribble "$SOCK" fixture 2 >"$T/scr.out" 2>&1 &
	sp=$!
	CLIENT_PIDS=$sp
	sleep 0.3
	# another client, meanwhile: served as usual
	run_jobs futex sleep
	wait $sp || fail "scribbler: $(cat "$T/scr.out")"
	CLIENT_PIDS=
	echo "ok: $(cat "$T/scr.out")"
	kill -0 "$DAEMON_PID" || fail "polynetd died of a scribbled doorbell"
	grep -q 'its doorbell woke the workers .* muted' "$T/daemon.err" ||
		fail "the scribbled doorbell was never muted"
	echo "ok: $(grep -o 'session [0-9]* of uid [0-9]*: its doorbell.*' "$T/daemon.err" | head -1)"
fi
stop_daemon

# the fallback, forced: eventfds read by multishot polls in the workers' rings
start_daemon --workers 2 --idle-spin-us 50 --wake eventfd
grep -q 'wake=eventfd' "$T/daemon.out" || fail "--wake eventfd: $(cat "$T/daemon.out")"
pctl load "$T/fx.pnb" >/dev/null || fail "load"
for w in sleep uring adaptive; do run_jobs eventfd $w; done
"$WC" batch "$SOCK" fixture 20000 >"$T/batch.out" 2>&1 || fail "batch (eventfd): $(cat "$T/batch.out")"
echo "ok (eventfd): $(cat "$T/batch.out")"
stop_daemon
echo "wake: ok"
