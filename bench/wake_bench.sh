#!/usr/bin/env bash
# Wake-ups through io_uring (issue 11), in one run on one machine, on both
# wake paths of polynetd: futex (--wake auto, where io_uring has the futex
# ops) and eventfd (--wake eventfd, the Linux 6.1 fallback):
#  1. round trip of an empty job, 1 client (polyctl bench --ring --json):
#     polling, adaptive, NOP, and sleeping against a Unix socket after the
#     same idle gap; the two daemons alternated, ROUNDS times each;
#  2. throughput of empty jobs (1 worker) with 1, 8 and 64 client
#     processes, DEPTH in flight each, batched (pn_submit_n / pn_poll_n) and
#     one at a time, alternated.
# Writes $B/bench/wake_raw.jsonl (one JSON object per measurement) and
# bench/results/wake.json (medians over the rounds); prints a summary.
# Knobs: B (build dir), ROUNDS (5), ITERS (20000), SECONDS_PER (2), DEPTH (16).
set -u -o pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
POLYCTL=$B/rel/polyctl
POLYNETD=$B/rel/polynetd
DC=$B/rel/tests/daemon_client
ROUNDS=${ROUNDS:-5}
ITERS=${ITERS:-20000}
SECONDS_PER=${SECONDS_PER:-2}
DEPTH=${DEPTH:-16}
PY=/usr/bin/python3
die() { echo "bench/wake_bench.sh: $*" >&2; exit 1; }
for f in "$POLYCTL" "$POLYNETD" "$DC"; do [ -x "$f" ] || die "$f: make build first"; done

T=$(mktemp -d /tmp/wake-bench.XXXXXX)
SOCK=$T/polynetd.sock
STATE=pnwb-$$
DP=
cleanup() { [ -n "$DP" ] && kill -KILL "$DP" 2>/dev/null; rm -f /dev/shm/polynet."$STATE".*; rm -rf "$T"; }
trap cleanup EXIT
mkdir -p "$B/bench" bench/results
RAW=$B/bench/wake_raw.jsonl
: >"$RAW"

start() {	# wake
	local w=$1
	"$POLYNETD" --socket "$SOCK" --state "$STATE" --workers 1 --wake "$w" >"$T/d.out" 2>"$T/d.err" &
	DP=$!
	for _ in $(seq 100); do grep -q '^ready' "$T/d.out" && break; sleep 0.1; done
	grep -q '^ready' "$T/d.out" || die "polynetd --wake $w not ready: $(cat "$T/d.err")"
	# auto falls back to eventfd on a kernel without io_uring futex ops: say so
	WAKE=$(sed -n 's/.* wake=\([a-z]*\).*/\1/p' "$T/d.out")
}
stop() { kill -TERM "$DP"; wait "$DP"; DP=; }

echo "== 1. round trip, 1 client ($ROUNDS rounds of $ITERS per wake path)"
for r in $(seq "$ROUNDS"); do
	for w in auto eventfd; do
		start "$w"
		"$POLYCTL" bench --ring --socket "$SOCK" --iters "$ITERS" --json |
			$PY -c 'import json,sys; d=json.loads(sys.stdin.read()); d["round"]=int(sys.argv[1]); print(json.dumps(d))' "$r" |
			tee -a "$RAW" | cut -c1-160
		stop
	done
done

echo "== 2. throughput of empty jobs, 1 worker, $DEPTH in flight per client"
"$DC" mkmodel empty "$T/empty.pnb" || die "mkmodel"
for w in auto eventfd; do
	start "$w"
	"$POLYCTL" load "$T/empty.pnb" --socket "$SOCK" >/dev/null || die "load empty"
	for n in 1 8 64; do
		for how in batched single; do
			pids=()
			for i in $(seq "$n"); do
				"$DC" throughput "$SOCK" empty "$SECONDS_PER" "$DEPTH" "$how" >"$T/tp$i" &
				pids+=($!)
			done
			wait "${pids[@]}" || die "a throughput client failed"
			cat "$T"/tp* | awk -v n="$n" -v how="$how" -v w="$WAKE" '{ j += $1; if ($2 > s) s = $2 }
				END { printf "{\"bench\":\"wake_throughput\",\"wake\":\"%s\",\"submit\":\"%s\",\"clients\":%d,\"jobs\":%d,\"seconds\":%.3f,\"jobs_per_s\":%.0f}\n", w, how, n, j, s, j / s }' |
				tee -a "$RAW"
			rm -f "$T"/tp*
		done
	done
	stop
done

$PY - "$RAW" <<'PY' >bench/results/wake.json
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = {"rounds": {}, "throughput": [r for r in rows if r["bench"] == "wake_throughput"]}
for wake in ("futex", "eventfd"):
    ring = [r for r in rows if r["bench"] == "ring" and r["wake"] == wake]
    if not ring:
        continue
    modes = [m for m in ("polling", "adaptive", "polling_nop", "unix_socket", "sleeping",
                         "unix_socket_idle") if m in ring[0]]
    med = {m: {f: round(statistics.median(r[m][f] for r in ring), 3)
               for f in ("p50_us", "p99_us", "p999_us")} for m in modes}
    ratios = {k: round(statistics.median(r[k] for r in ring), 3)
              for k in ("sleeping_over_socket_p50", "adaptive_over_polling_p50",
                        "socket_over_polling_p50")}
    ratios["sleeping_over_socket_p999"] = round(statistics.median(
        r["sleeping"]["p999_us"] / r["unix_socket_idle"]["p999_us"] for r in ring), 3)
    out["rounds"][wake] = {"rounds": len(ring), "median": med, "ratios": ratios}
print(json.dumps(out, indent=1))
PY
$PY - bench/results/wake.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for wake, r in d["rounds"].items():
    print(f"{wake}: medians of {r['rounds']} rounds (us): " + ", ".join(
        f"{m} p50 {v['p50_us']} p99.9 {v['p999_us']}" for m, v in r["median"].items()))
    print(f"{wake}: ratios " + ", ".join(f"{k} {v}" for k, v in r["ratios"].items()))
for t in d["throughput"]:
    print(f"throughput {t['wake']} {t['submit']:8s} {t['clients']:3d} clients: {t['jobs_per_s']} jobs/s")
PY
echo "raw: $RAW; medians: bench/results/wake.json"
