#!/usr/bin/env bash
# Device faults injected by the Driver API double (tests/cuda_double/README.md),
# polynetd on its CUDA backend, real client processes:
#  - out of device memory at LOAD: the load fails naming it, the daemon goes
#    on, the next load succeeds;
#  - a sticky fault raised by one client's jobs (a token the double treats as
#    an illegal address), among 8 clients: exactly those jobs fail with EIO,
#    every other job completes with the in-process result (none lost), the
#    context is reset with its weights and graphs remade;
#  - a non-sticky launch failure fails that job alone, and the next succeeds;
#  - a sticky fault at an arbitrary launch under load: no job lost.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh
DOUBLE=$B/rel/tests/cuda_double/libcuda.so.1
[ -f "$DOUBLE" ] || { echo "skip: $DOUBLE not built (make build)"; exit 77; }
"$DC" mkmodel fixture "$T/fx.pnb" || fail "mkmodel"
export POLYNET_LIBCUDA=$DOUBLE CUDA_DOUBLE_EXEC=twin CUDA_DOUBLE_LOG=$T/cu.log
BACKEND=cuda BACKEND_ARGS=(--backend cuda)
resets() { pctl stat --json | python3 -c 'import json,sys; print(sum(d["resets"] for d in json.load(sys.stdin)["devices"]))'; }

# 1. out of memory at LOAD (allocations: 1 = the weights)
CUDA_DOUBLE_FAIL_ALLOC_AT=1 start_daemon --workers 1
pctl load "$T/fx.pnb" >"$T/o" 2>"$T/e" && fail "a load past the device's memory succeeded"
grep -q "out of memory" "$T/e" || fail "load error does not say out of memory: $(cat "$T/e")"
pctl load "$T/fx.pnb" >/dev/null || fail "the next load failed"
"$DC" stress "$SOCK" fixture "$T/fx.pnb" 50 4 1 || fail "jobs after the failed load"
stop_daemon
echo "out of device memory at LOAD: refused with the reason, the next load served"

# 2. a sticky fault from one client's jobs, among others
POISON=7
CUDA_DOUBLE_POISON_ID=$POISON start_daemon --workers 2 --batch-delay-us 200
pctl load "$T/fx.pnb" >/dev/null || fail "load"
pids=()
"$DC" stress "$SOCK" fixture "$T/fx.pnb" 120 4 99 $POISON 10 >"$T/poison.log" 2>&1 &
ppid=$!
for i in $(seq 8); do
	"$DC" stress "$SOCK" fixture "$T/fx.pnb" 150 4 "$i" $POISON 0 >"$T/c$i.log" 2>&1 &
	pids+=($!)
done
bad=0
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || { bad=$((bad + 1)); sed 's/^/  client| /' "$T/c$((i + 1)).log"; }
done
wait $ppid || fail "the poisoning client: $(cat "$T/poison.log")"
[ $bad -eq 0 ] || fail "$bad of 8 clients lost or got a wrong job to another's fault"
grep -q "^ok 108 poisoned 12$" "$T/poison.log" || fail "poisoning client: $(cat "$T/poison.log")"
r=$(resets)
[ "$r" -ge 1 ] || fail "no context reset after sticky faults"
grep -q "^ctx_reset dev=0" "$T/cu.log" || fail "the double saw no reset"
"$DC" stress "$SOCK" fixture "$T/fx.pnb" 50 4 3 $POISON 0 >/dev/null || fail "jobs after the resets"
kill -0 "$DAEMON_PID" || fail "the daemon died"
stop_daemon
echo "sticky faults from 12 poisoned jobs among 8 clients x 150: those 12 failed with EIO," \
     "all 1308 others completed correctly; $r context resets"

# 3. a non-sticky launch failure: that job alone (launches: graph nodes, counted
#    from the first; the fixture's run is several of them)
: >"$T/cu.log"
CUDA_DOUBLE_FAIL_LAUNCH_AT=3 start_daemon --workers 1
id=$(pctl load "$T/fx.pnb" | awk '{print $3}') || fail "load"
r1=$("$DC" jobid "$SOCK" "$id") || fail "jobid"
r2=$("$DC" jobid "$SOCK" "$id") || fail "jobid"
[ "$r1" -eq -121 ] || fail "the failed launch's job got $r1, expected -EREMOTEIO (-121)"
[ "$r2" -eq 0 ] || fail "the next job got $r2"
[ "$(resets)" -eq 0 ] || fail "a non-sticky failure reset the context"
stop_daemon
echo "a non-sticky launch failure failed its job only; no reset"

# 4. a sticky fault at some launch under load: no job lost
CUDA_DOUBLE_STICKY_AT=40 start_daemon --workers 2
pctl load "$T/fx.pnb" >/dev/null || fail "load"
pids=()
for i in $(seq 4); do
	"$DC" stress "$SOCK" fixture "$T/fx.pnb" 100 4 "$((i + 20))" >"$T/s$i.log" 2>&1 &
	pids+=($!)
done
bad=0
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || { bad=$((bad + 1)); sed 's/^/  client| /' "$T/s$((i + 1)).log"; }
done
[ $bad -eq 0 ] || fail "$bad of 4 clients lost a job to a device reset"
[ "$(resets)" -eq 1 ] || fail "expected one reset, stat says $(resets)"
stop_daemon
echo "a sticky fault under load: one reset, 400 of 400 jobs completed correctly"
