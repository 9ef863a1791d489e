#!/usr/bin/env bash
# A job's lengths are checked against its own T, also when it runs padded in
# one group with a longer job (a lens of T + 1 was accepted there and -EINVAL
# alone). The daemon batches with a delay so that the pairs share a run.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh

"$DC" mkmodel empty "$T/empty.pnb" || fail "mkmodel empty"
start_daemon --workers 1 --batch-delay-us 2000
pctl load "$T/empty.pnb" >/dev/null || fail "load empty"
"$DC" lenscheck "$SOCK" empty 50 >"$T/lens.log" 2>&1 || fail "$(cat "$T/lens.log")"
cat "$T/lens.log"
# the check means something only if some pairs did run together
grep -q 'completions batched' "$T/lens.log" && ! grep -q ' 0 completions batched' "$T/lens.log" ||
	fail "no pair ran batched: the check did not exercise a padded group"
kill -0 "$DAEMON_PID" || fail "polynetd died"
stop_daemon
echo "lens: ok"
