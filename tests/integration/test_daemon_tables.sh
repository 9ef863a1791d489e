#!/usr/bin/env bash
# The scheduler's model table is reused (issue 10, item 11): every LOAD gets a
# fresh model id, and after 1,024 LOAD/UNLOAD cycles every job of a newly
# loaded model used to fail -ENOSPC (slots were never freed). 1,100 cycles,
# then jobs of the last load must run.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh

"$DC" mkmodel fixture "$T/fx.pnb" || fail "mkmodel"
start_daemon --workers 1
for i in $(seq 1 1100); do
	pctl load "$T/fx.pnb" >/dev/null || fail "load $i"
	pctl unload fixture >/dev/null || fail "unload $i"
done
pctl load "$T/fx.pnb" >/dev/null || fail "load after 1100 cycles"
"$DC" stress "$SOCK" fixture "$T/fx.pnb" 20 1 1 ||
	fail "jobs of a model loaded after 1100 LOAD/UNLOAD cycles"
echo "ok: 1100 load/unload cycles, then jobs run"
stop_daemon
echo "tables: ok"
