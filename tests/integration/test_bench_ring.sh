#!/usr/bin/env bash
# polyctl bench --ring (issue 11), against the real daemon on both wake
# paths: the rows each --wait brings, the counts, the wake mode reported
# (the daemon's ready line says which), the ratios and targets present and
# consistent with the rows; a bad --wait refused with a clear error. Speed
# is not asserted here (bench/wake_bench.sh measures it).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh
PY=/usr/bin/python3

check() {	# json-file wake rows...
	"$PY" - "$@" <<'PY' || fail "bench --ring --json: $(cat "$1")"
import json, sys
d = json.load(open(sys.argv[1]))
wake, rows = sys.argv[2], sys.argv[3:]
allrows = {"polling", "adaptive", "polling_nop", "unix_socket", "sleeping", "unix_socket_idle"}
assert d["bench"] == "ring" and d["wake"] == wake, (d["wake"], wake)
assert set(rows) == allrows & set(d), sorted(allrows & set(d))
for r in rows:
    m = d[r]
    assert m["iters"] >= 100, (r, m)
    assert 0 < m["p50_us"] <= m["p99_us"] <= m["p999_us"], (r, m)
if "sleeping" in rows:
    want = d["sleeping"]["p50_us"] / d["unix_socket_idle"]["p50_us"]
    assert abs(d["sleeping_over_socket_p50"] - want) < 1e-2 * want, d
    t = d["targets"]["sleeping_p50_le_socket"]
    assert t == (d["sleeping"]["p50_us"] <= d["unix_socket_idle"]["p50_us"]), d
    assert d["gap_us"] == 5 * 2 + 200, d["gap_us"]	# 2 x --idle-spin-us 5 + 200
if "adaptive" in rows:
    assert d["adaptive_spin_us"] == 7, d
    assert ("adaptive_p50_within_2x_polling" in d["targets"]) == ("polling" in rows), d
print("ok: %s wake-ups, rows %s" % (wake, ", ".join(
    "%s p50 %.1f us" % (r, d[r]["p50_us"]) for r in rows)))
PY
}

for wake in auto eventfd; do
	start_daemon --workers 1 --idle-spin-us 5 --wake "$wake"
	want=$(sed -n 's/.* wake=\([a-z]*\).*/\1/p' "$T/daemon.out")
	[ -n "$want" ] || fail "no wake= in the ready line: $(cat "$T/daemon.out")"
	pctl bench --ring --iters 1000 --json --wait poll,sleep,adaptive:7 >"$T/all.json" ||
		fail "bench --ring (all modes)"
	check "$T/all.json" "$want" polling polling_nop unix_socket sleeping unix_socket_idle adaptive
	pctl bench --ring --iters 1000 --json --wait adaptive:7 >"$T/ad.json" ||
		fail "bench --ring --wait adaptive:7"
	check "$T/ad.json" "$want" adaptive
	pctl bench --ring --iters 1000 --wait sleep >"$T/table.txt" || fail "bench --ring (table)"
	grep -q "^sleeping  *1000 " "$T/table.txt" && grep -q "^unix_socket_idle  *1000 " "$T/table.txt" &&
		grep -q "same idle gap" "$T/table.txt" || fail "the table: $(cat "$T/table.txt")"
	stop_daemon
done

start_daemon --workers 1
for bad in nap adaptive:x poll,sleepy; do
	pctl bench --ring --iters 1000 --wait "$bad" >"$T/bad.out" 2>&1 && fail "--wait $bad accepted"
	grep -q -- "--wait $bad: expected a comma-separated list of poll, sleep, adaptive" "$T/bad.out" ||
		fail "--wait $bad: $(cat "$T/bad.out")"
done
echo "ok: a bad --wait is refused with what it expects"
stop_daemon
echo "PASS"
