#!/usr/bin/env bash
# The admin map's size limit: a --tenants file of more lines than the table
# holds is refused at start, naming the line (it used to spill into a shared
# entry that gave every later unlisted uid the last listed tenant's name and
# admin rights); and with the table full, an unlisted uid is no admin.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh

# 300 tenants, the last one an admin: one past the table at line 257
{ for i in $(seq 1 299); do echo "$((10000 + i)) t$i"; done; echo "20000 boss 1 admin"; } >"$T/big"
"$POLYNETD" --socket "$SOCK" --foreground --state "$STATE" --tenants "$T/big" \
	>"$T/big.out" 2>"$T/big.err" &
DAEMON_PID=$!
for _ in $(seq 100); do
	kill -0 "$DAEMON_PID" 2>/dev/null || break
	grep -q '^ready' "$T/big.out" && fail "polynetd started with a 300-line admin map"
	sleep 0.1
done
kill -0 "$DAEMON_PID" 2>/dev/null && fail "polynetd neither started nor refused the map in 10 s"
wait "$DAEMON_PID" && fail "polynetd exited 0 on a 300-line admin map"
DAEMON_PID=
grep -q "$T/big:257: uid 10257: the map holds at most 256 tenants" "$T/big.err" ||
	fail "the refusal does not name line 257 and the limit: $(cat "$T/big.err")"
[ -e "$SOCK" ] && fail "a refused start left its socket"
echo "ok: a 300-line map is refused: $(tail -1 "$T/big.err")"

[ "$(id -u)" -eq 0 ] || { echo "skip: not root, the second-uid check needs runuser"; exit 77; }
# exactly full, the last listed an admin; uid 65534 (nobody) is not listed
{ for i in $(seq 1 255); do echo "$((10000 + i)) t$i"; done; echo "20000 boss 1 admin"; } >"$T/full"
"$DC" mkmodel empty "$T/empty.pnb" || fail "mkmodel empty"
chmod 755 "$T"
start_daemon --tenants "$T/full"
pctl load "$T/empty.pnb" >/dev/null || fail "load"
if as_nobody "$POLYCTL" unload empty --socket "$SOCK" >"$T/un.out" 2>&1; then
	fail "an unlisted uid unloaded root's model with the admin map full: $(cat "$T/un.out")"
fi
pctl list | grep -q '^empty' || pctl list --json | grep -q '"empty"' ||
	fail "root's model is gone after the unlisted uid's unload: $(pctl list)"
echo "ok: unlisted uid refused: $(cat "$T/un.out")"
stop_daemon
echo "tenants: ok"
