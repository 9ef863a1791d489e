#!/usr/bin/env bash
# Per-tenant quotas, with a second uid (nobody) as the greedy tenant:
#  - models= and model_mb= at LOAD (refused before any shared memory is made),
#    and --max-models for everyone together;
#  - sessions= and session_mb= at OPEN_SESSION, while root still opens its own;
#  - the daemon gives session memory back when sessions close;
#  - LOAD of a 3 GiB sparse file that is no model is refused by its header,
#    before the rest is read: no shared memory fills.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh
[ "$(id -u)" -eq 0 ] || { echo "skip: not root, the second uid needs runuser"; exit 77; }
chmod 755 "$T"
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status"; }

for i in 1 2 3 4; do
	"$DC" mkmodel "nop:m$i:$((8 + i))" "$T/m$i.pnb" || fail "mkmodel m$i"
	chmod 644 "$T/m$i.pnb"
done
head -c $((2 << 20)) /dev/urandom >"$T/twomb.bin"
cat "$T/m4.pnb" >"$T/big4.pnb"
cat >"$T/map" <<MAP
# the greedy tenant: 2 models of 1 MiB in all, 3 sessions of 64 MiB in all
65534 greedy 1 models=2 model_mb=1 sessions=3 session_mb=64
MAP
start_daemon --workers 1 --tenants "$T/map" --max-models 4

# models= : the third LOAD is refused, naming the quota
nctl load "$T/m1.pnb" >/dev/null || fail "greedy's first load"
nctl load "$T/m2.pnb" >/dev/null || fail "greedy's second load"
nctl load "$T/m3.pnb" 2>"$T/q.err" && fail "greedy loaded a third model past models=2"
grep -q "its quota is 2" "$T/q.err" || fail "models quota: $(cat "$T/q.err")"
echo "ok: models=2: $(cat "$T/q.err")"
nctl unload m2 >/dev/null || fail "unload m2"

# model_mb= : a file over the quota is refused before it is read
"$POLYCTL" compile --help >/dev/null 2>&1
python3 - "$T/m3.pnb" "$T/fat.pnb" <<'PY' || fail "making a 2 MiB model"
import sys
# a copy padded past 1 MiB: the quota is charged from the file's size, before its header
open(sys.argv[2], 'wb').write(open(sys.argv[1], 'rb').read() + b'\0' * (2 << 20))
PY
chmod 644 "$T/fat.pnb"
nctl load "$T/fat.pnb" 2>"$T/mb.err" && fail "greedy loaded past model_mb=1"
grep -q "model_mb=" "$T/mb.err" || fail "model_mb quota: $(cat "$T/mb.err")"
echo "ok: model_mb=1: $(cat "$T/mb.err")"

# --max-models: the admin-set total, for root too
pctl load "$T/m2.pnb" >/dev/null && pctl load "$T/m3.pnb" >/dev/null &&
	pctl load "$T/m4.pnb" >/dev/null || fail "root's loads under the total"
"$DC" mkmodel nop:m5:20 "$T/m5.pnb"
pctl load "$T/m5.pnb" 2>"$T/tot.err" && fail "a fifth model past --max-models 4"
grep -q -- "--max-models 4" "$T/tot.err" || fail "total: $(cat "$T/tot.err")"
echo "ok: --max-models 4: $(cat "$T/tot.err")"

# sessions= and session_mb= at OPEN_SESSION; root is not affected
out=$(as_nobody "$DC" sessions "$SOCK" 5 1 8)
case "$out" in "opened 3: "*"its quota is 3"*) ;; *) fail "sessions=3: '$out'";; esac
echo "ok: sessions=3: $out"
out=$(as_nobody "$DC" sessions "$SOCK" 3 40 8)
case "$out" in "opened 1: "*"session_mb="*) ;; *) fail "session_mb=64: '$out'";; esac
echo "ok: session_mb=64: $out"
out=$("$DC" sessions "$SOCK" 5 1 8)
[ "$out" = "opened 5" ] || fail "root's sessions while greedy is at quota: '$out'"

# session memory comes back: 60 sessions with 8192-entry CQs, closed
before=$(rss_kb)
for _ in 1 2 3; do
	out=$("$DC" sessions "$SOCK" 60 1 8192)
	[ "$out" = "opened 60" ] || fail "60 sessions: '$out'"
done
# sessions are freed when the loop has reaped their connections: wait for it
for _ in $(seq 50); do
	pctl stat --json | grep -q '"sessions":0,' && break
	sleep 0.1
done
after=$(rss_kb)
[ "$after" -lt $((before + 16384)) ] ||
	fail "the daemon's RSS went from $before kB to $after kB after the sessions closed"
echo "ok: RSS $before kB before 3 x 60 sessions, $after kB after they closed"

# a 3 GiB sparse file that is no model (under the default 4 GiB quota): refused by its header, nothing filled
pctl unload m4 >/dev/null || fail "unload m4"
truncate -s 3G "$T/sparse.pnb"
t0=$(date +%s)
pctl load "$T/sparse.pnb" 2>"$T/sp.err" && fail "a 3 GiB file of zeros loaded"
grep -q "bad magic" "$T/sp.err" || fail "sparse: $(cat "$T/sp.err")"
[ "$(find /dev/shm -name "polynet.$STATE.m*" -size +64M | wc -l)" -eq 0 ] ||
	fail "a region of the 3 GiB file is left in /dev/shm"
echo "ok: a 3 GiB sparse file refused in $(( $(date +%s) - t0 )) s: $(cat "$T/sp.err")"
stop_daemon
echo "quotas: ok"
