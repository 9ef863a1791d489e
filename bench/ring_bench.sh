#!/usr/bin/env bash
# polynetd's data plane (issue 4), in one run on one machine:
#  1. round trip of an empty job, 1 client: polling, sleeping, and a plain
#     Unix-socket request/response in the same run (polyctl bench --ring),
#     ROUNDS times: the medians of the rounds are reported;
#  2. throughput of empty jobs with 1, 8 and 64 client processes;
#  3. the real model (USE lite) served to 16 client processes (polyctl run
#     through the daemon) against the in-process executor (polyctl run FILE);
#  4. through polynetd (1 worker + 1 realtime worker), fixture model: fairness
#     of 8 equal-weight saturating tenants (uids, Jain's index over jobs
#     done) and realtime latency alone vs next to a saturating batch tenant.
# Writes $B/bench/ring_raw.jsonl and bench/results/ring.json; prints a summary.
# Knobs: B (build dir), ROUNDS (3), ITERS (20000), SECONDS_PER (2), TEXTS,
# PARTS (default "1 2 3": which of the three to run).
set -u -o pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
POLYCTL=$B/rel/polyctl
POLYNETD=$B/rel/polynetd
PNB=$B/use.pnb
ROUNDS=${ROUNDS:-3}
# The realtime client runs as a latency-critical client would: SCHED_FIFO.
# On 2 cores it otherwise queues behind the batch tenant's own client
# processes for its wake-up, which no daemon can help (RTPRIO= turns it off).
if [ -z "${RTPRIO+x}" ]; then
	RTPRIO=
	[ "$(id -u)" -eq 0 ] && command -v chrt >/dev/null && RTPRIO="chrt -f 1"
fi
ITERS=${ITERS:-20000}
SECONDS_PER=${SECONDS_PER:-2}
TEXTS=${TEXTS:-tests/data/sentences.txt}
PARTS=${PARTS:-"1 2 3 4"}
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
PY=/usr/bin/python3
die() { echo "bench/ring_bench.sh: $*" >&2; exit 1; }
for f in "$POLYCTL" "$POLYNETD" "$B/rel/libpolynet.a"; do [ -e "$f" ] || die "$f: build it first"; done

T=$(mktemp -d /tmp/ring-bench.XXXXXX)
SOCK=$T/polynetd.sock
STATE=pndb-$$
DP=
cleanup() { [ -n "$DP" ] && kill -KILL "$DP" 2>/dev/null; rm -f /dev/shm/polynet."$STATE".*; rm -rf "$T"; }
trap cleanup EXIT
mkdir -p "$B/bench" bench/results
RAW=$B/bench/ring_raw.jsonl
: >"$RAW"

DC=$B/rel/tests/daemon_client
[ -x "$DC" ] || die "$DC missing: make B=$B tools"

start() {	# polynetd args...
	"$POLYNETD" --socket "$SOCK" --state "$STATE" "$@" >"$T/d.out" 2>"$T/d.err" &
	DP=$!
	for _ in $(seq 100); do grep -q '^ready' "$T/d.out" && return; sleep 0.1; done
	die "polynetd not ready: $(cat "$T/d.err")"
}
stop() { kill -TERM "$DP"; wait "$DP"; DP=; }

start --workers 1
if part 1; then
echo "== 1. round trip, 1 client ($ROUNDS rounds of $ITERS)"
for r in $(seq "$ROUNDS"); do
	"$POLYCTL" bench --ring --socket "$SOCK" --iters "$ITERS" --json | tee -a "$RAW"
done
fi

if part 2; then
echo "== 2. throughput of empty jobs (1 worker)"
"$DC" mkmodel empty "$T/empty.pnb"
"$POLYCTL" load "$T/empty.pnb" --socket "$SOCK" >/dev/null || die "load empty"
for n in 1 8 64; do
	pids=()
	for i in $(seq "$n"); do
		"$DC" throughput "$SOCK" empty "$SECONDS_PER" 16 >"$T/tp$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	cat "$T"/tp* | awk -v n="$n" '{ j += $1; if ($2 > s) s = $2 }
		END { printf "{\"bench\":\"ring_throughput\",\"clients\":%d,\"jobs\":%d,\"seconds\":%.3f,\"jobs_per_s\":%.0f}\n", n, j, s, j / s }' |
		tee -a "$RAW"
	rm -f "$T"/tp*
done
"$POLYCTL" unload empty --socket "$SOCK" >/dev/null
fi
stop

if ! part 3; then
	:
elif [ -f "$PNB" ]; then
	echo "== 3. USE lite, $(wc -l <"$TEXTS") texts per client, batches of 16"
	# n concurrent `polyctl run` clients of MODEL (extra args: through the
	# daemon), for n = 1 and 16; one JSON line each, labelled KIND
	use_clients() {	# kind model [args...]
		local kind=$1 model=$2 n t0 t1 i pids
		shift 2
		for n in 1 16; do
			t0=$(date +%s.%N)
			pids=()
			for i in $(seq "$n"); do
				"$POLYCTL" run "$model" "$@" --text-file "$TEXTS" >"$T/u$i" &
				pids+=($!)
			done
			wait "${pids[@]}"
			t1=$(date +%s.%N)
			cat "$T"/u* | sed -n 's/.*latency per batch p50 \([0-9.]*\) us, p99 \([0-9.]*\) us.*/\1 \2/p' >"$T/lat"
			$PY - "$n" "$t0" "$t1" "$(wc -l <"$TEXTS")" "$T/lat" "$kind" <<'PY' | tee -a "$RAW"
import json, statistics, sys
n, t0, t1, lines, latf, kind = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
l = [tuple(map(float, x.split())) for x in open(latf) if x.strip()]
print(json.dumps({"bench": "ring_use", "mode": kind, "clients": n, "texts": n * lines,
                  "seconds": round(t1 - t0, 3), "texts_per_s": round(n * lines / (t1 - t0), 1),
                  "batch_p50_us_median": statistics.median(x[0] for x in l),
                  "batch_p99_us_median": statistics.median(x[1] for x in l)}))
PY
			rm -f "$T"/u*
		done
	}
	use_clients in_process "$PNB"
	start --workers 2
	"$POLYCTL" load "$PNB" --socket "$SOCK" >/dev/null || die "load $PNB"
	"$POLYCTL" run use-lite --socket "$SOCK" --text-file "$TEXTS" >/dev/null	# warm-up
	use_clients polynetd use-lite --socket "$SOCK"
	"$POLYCTL" stat --socket "$SOCK" --json | $PY -c '
import json, sys
for m in json.load(sys.stdin)["models"]:
    print(json.dumps({"bench": "ring_use_daemon_stat", "model": m["name"], "jobs": m["jobs"],
                      "batched": m["batched"], "p50_us": m["p50_us"], "p99_us": m["p99_us"],
                      "p999_us": m["p999_us"]}))' | tee -a "$RAW"
	stop
else
	echo "== 3. skipped: $PNB missing (make model)"
fi

if part 4 && [ "$(id -u)" -eq 0 ]; then
	echo "== 4. fairness (8 tenants) and realtime isolation, 1 worker + 1 realtime worker"
	chmod 755 "$T"
	"$DC" mkmodel fixture "$T/fx.pnb"
	start --workers 1 --rt-workers 1
	chmod 666 "$SOCK"
	"$POLYCTL" load "$T/fx.pnb" --socket "$SOCK" >/dev/null || die "load fixture"
	pids=()
	for u in $(seq 2001 2008); do
		"$DC" saturate "$SOCK" fixture "$SECONDS_PER" 16 "$u" 2 >"$T/f$u" & pids+=($!)
	done
	wait "${pids[@]}"
	cat "$T"/f2* | awk '{ s += $2; q += $2 * $2; n++ }
		END { printf "{\"bench\":\"ring_fairness\",\"tenants\":%d,\"jobs\":%d,\"jain\":%.4f}\n", n, s, s * s / (n * q) }' |
		tee -a "$RAW"
	$RTPRIO "$DC" rtlat "$SOCK" fixture "$SECONDS_PER" 1000 >"$T/rt_alone" || die "rtlat"
	"$DC" saturate "$SOCK" fixture $((SECONDS_PER + 1)) 16 2100 2 >/dev/null & sp=$!
	sleep 0.5
	$RTPRIO "$DC" rtlat "$SOCK" fixture "$SECONDS_PER" 1000 >"$T/rt_batch" || die "rtlat"
	wait $sp
	read -r a50 a99 a999 an ar <"$T/rt_alone"
	read -r b50 b99 b999 bn br <"$T/rt_batch"
	echo "{\"bench\":\"ring_isolation\",\"alone\":{\"p50_us\":$a50,\"p99_us\":$a99,\"p999_us\":$a999,\"n\":$an,\"refused\":$ar},\"with_batch\":{\"p50_us\":$b50,\"p99_us\":$b99,\"p999_us\":$b999,\"n\":$bn,\"refused\":$br},\"p99_ratio\":$(echo "$b99 $a99" | awk '{printf "%.3f", $1 / $2}')}" |
		tee -a "$RAW"
	stop
fi

$PY - "$RAW" <<'PY' >bench/results/ring.json
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ring = [r for r in rows if r.get("bench") == "ring"]
med = lambda k, f: statistics.median(r[k][f] for r in ring)
out = {"round_trip_us": {m: {f: med(m, f) for f in ("p50_us", "p99_us", "p999_us")}
                         for m in ("polling", "sleeping", "unix_socket", "polling_nop")} if ring else {},
       "rounds": len(ring),
       "socket_over_polling_p50_median": statistics.median(r["socket_over_polling_p50"] for r in ring) if ring else None,
       "throughput": [r for r in rows if r.get("bench") == "ring_throughput"],
       "use_lite": [r for r in rows if r.get("bench", "").startswith("ring_use")],
       "fairness": [r for r in rows if r.get("bench") == "ring_fairness"],
       "isolation": [r for r in rows if r.get("bench") == "ring_isolation"]}
print(json.dumps(out, indent=1))
PY
echo "== summary (bench/results/ring.json)"
cat bench/results/ring.json
