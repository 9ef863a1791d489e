#!/usr/bin/env bash
# The CPU backend's derived weights (packed GEMM layouts, sin/cos tables)
# live in a persistent region of their own, keyed by the model's content
# hash, the backend, the CPU ISA and oneDNN's version (daemon/derived.h):
#  - LOAD packs them into "<state>.x<hash>", sealed (no write bit);
#  - a restart reattaches them without packing, and the embeddings are the
#    very bytes of the first daemon's (and of an in-process run);
#  - a corrupt payload (CRC), another ISA in the key, an incomplete region
#    are each refused at reattach, destroyed and packed again, same bytes;
#  - UNLOAD destroys the region; an orphan one is reclaimed at start;
#  - a transient model keeps no derived region.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh
needs_backend cpu
[ -d /dev/shm ] || { echo "skip: no /dev/shm"; exit 77; }
[ -e /dev/polynet ] && { echo "skip: the driver backend holds regions, not /dev/shm"; exit 77; }
USE=${POLYNET_USE_PNB:-$B/use.pnb}
[ -f "$USE" ] || { echo "skip: $USE absent (make model)"; exit 77; }
printf 'hello world\nthe cat sat on the mat\nx\n' >"$T/in.txt"

derived() { ls /dev/shm | grep "^polynet\.$STATE\.x" | head -1; }
embed() {	# embed OUT: the three lines' embeddings through the daemon
	pctl run use-lite --text-file "$T/in.txt" --json >"$1" || fail "run through the daemon"
}

start_daemon --workers 2
pctl load "$USE" >/dev/null || fail "load"
d=$(derived)
[ -n "$d" ] || fail "no derived region after LOAD: $(ls /dev/shm | grep "$STATE")"
grep -q "derived weights ${d#polynet.}: [0-9]* bytes, packed now" "$T/daemon.err" ||
	fail "LOAD did not pack into the derived region"
[ $((0$(stat -c %a "/dev/shm/$d") & 0222)) -eq 0 ] ||
	fail "derived region not sealed: mode $(stat -c %a "/dev/shm/$d")"
embed "$T/a.jsonl"
"$POLYCTL" run "$USE" --text-file "$T/in.txt" --json >"$T/local.jsonl" || fail "run in process"
cmp -s "$T/a.jsonl" "$T/local.jsonl" || fail "daemon and in-process embeddings differ"
echo "ok: LOAD packed into $d, sealed; embeddings equal the in-process run"

# each worker's executor is prepared on that worker's CPU (first touch on its
# NUMA node), and the loop thread that did it gets its own affinity back
for i in 0 1; do
	grep -q "model 'use-lite': executor $i placed on CPU $i (node" "$T/daemon.err" ||
		fail "executor $i not prepared on its worker's CPU $i"
done
allowed=$(awk '/^Cpus_allowed_list/ { print $2 }' /proc/self/status)
main_allowed=$(awk '/^Cpus_allowed_list/ { print $2 }' "/proc/$DAEMON_PID/task/$DAEMON_PID/status")
[ "$main_allowed" = "$allowed" ] ||
	fail "the loop thread stayed pinned after preparing: CPUs $main_allowed, not $allowed"
echo "ok: executors prepared on their workers' CPUs ($(grep -c "placed on CPU" "$T/daemon.err")), the loop thread unpinned"

# the same bytes loaded again are shared before anything is prepared for them
n_prep=$(grep -c "model 'use-lite': executor prepared" "$T/daemon.err")
pctl load "$USE" --json >"$T/dup.json" || fail "second load of the same bytes"
grep -q '"shared":true' "$T/dup.json" || fail "the second LOAD was not shared: $(cat "$T/dup.json")"
[ "$(grep -c "model 'use-lite': executor prepared" "$T/daemon.err")" -eq "$n_prep" ] ||
	fail "a duplicate LOAD prepared executors again"
[ "$(derived)" = "$d" ] || fail "a duplicate LOAD changed the derived region"
echo "ok: a duplicate LOAD is shared and prepares nothing"

restart() {	# restart WHY: stop, start, expect WHY in the new daemon's log
	stop_daemon
	: >"$T/daemon.err"
	start_daemon --workers 2
	grep -q "$1" "$T/daemon.err" || fail "after restart, expected '$1' in the log"
	embed "$T/b.jsonl"
	cmp -s "$T/a.jsonl" "$T/b.jsonl" || fail "embeddings changed across the restart ($1)"
}
restart "derived weights ${d#polynet.}: [0-9]* bytes, reattached, nothing packed"
grep -q "packed now" "$T/daemon.err" && fail "the restart packed again"
echo "ok: restart reattached without packing, same bytes"

# the header is 4096 bytes; corrupt the payload, then the key's ISA (offset 32)
poke() {	# poke OFFSET BYTE: one byte of the sealed region, as only its owner could
	chmod u+w "/dev/shm/$d"
	printf "$2" | dd of="/dev/shm/$d" bs=1 seek="$1" conv=notrunc status=none
	chmod u-w "/dev/shm/$d"
}
flip() { poke "$1" '\x5a'; }
stop_daemon
flip 8000
: >"$T/daemon.err"; start_daemon --workers 2
grep -q "payload CRC mismatch: destroyed, derived again" "$T/daemon.err" || fail "corrupt payload not refused"
grep -q "packed now" "$T/daemon.err" || fail "corrupt payload: not packed again"
embed "$T/b.jsonl"; cmp -s "$T/a.jsonl" "$T/b.jsonl" || fail "embeddings after a corrupt payload"
stop_daemon
flip 32
: >"$T/daemon.err"; start_daemon --workers 2
grep -q "derived for another CPU ISA: destroyed, derived again" "$T/daemon.err" ||
	fail "another ISA in the key not refused"
embed "$T/b.jsonl"; cmp -s "$T/a.jsonl" "$T/b.jsonl" || fail "embeddings after another ISA"
stop_daemon
poke 92 '\x00'	# the "complete" word (daemon/derived.c's header)
: >"$T/daemon.err"; start_daemon --workers 2
grep -q "incomplete" "$T/daemon.err" || fail "an incomplete region was not refused"
embed "$T/b.jsonl"; cmp -s "$T/a.jsonl" "$T/b.jsonl" || fail "embeddings after an incomplete region"
echo "ok: corrupt payload, another ISA, incomplete: each refused and packed again, same bytes"

# an orphan: derived weights of a model that is not here
stop_daemon
cp "/dev/shm/$d" "/dev/shm/polynet.$STATE.x00000000deadbeef"
: >"$T/daemon.err"; start_daemon --workers 2
grep -q "region $STATE.x00000000deadbeef: derived weights of no model" "$T/daemon.err" ||
	fail "the orphan derived region was not reclaimed"
[ -e "/dev/shm/polynet.$STATE.x00000000deadbeef" ] && fail "the orphan is still there"
[ -e "/dev/shm/$d" ] || fail "the live model's derived region was reclaimed"
echo "ok: an orphan derived region is reclaimed at start, the live one kept"

pctl unload use-lite >/dev/null || fail "unload"
[ -e "/dev/shm/$d" ] && fail "UNLOAD left the derived region"
pctl load "$USE" --transient >/dev/null || fail "transient load"
[ -n "$(derived)" ] && fail "a transient model made a derived region"
embed "$T/b.jsonl"; cmp -s "$T/a.jsonl" "$T/b.jsonl" || fail "embeddings of the transient model"
echo "ok: UNLOAD destroys the derived region; a transient model has none"
stop_daemon
