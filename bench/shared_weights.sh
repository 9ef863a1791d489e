#!/usr/bin/env bash
# Issue 11's memory and readiness figures for USE lite through polynetd,
# each build given measured in the same run (rounds alternate the builds):
#   bench/shared_weights.sh MODEL.pnb BUILD_DIR...     (e.g. build /tmp/old/build)
# Prints, per build:
#  - mem: Pss and Private_Dirty (kB, /proc/PID/smaps_rollup) of polynetd and
#    of 16 client processes (`polyctl run NAME`, each connected with the
#    model open, waiting on a FIFO), against the model file's bytes;
#  - first: the first one-sentence job's latency and the p50 of the 200 that
#    follow (the same sentence), right after LOAD and right after a restart;
#  - restart: SIGTERM to the first result of a restarted daemon, with its
#    derived-weights region reattached, and with it deleted (repacked).
# ROUNDS (default 5) rounds; medians are printed. Raw lines: $OUT (default
# build/bench/shared_weights_raw.txt).
set -u
cd "$(dirname "$0")/.."
PNB=${1:?usage: shared_weights.sh MODEL.pnb BUILD_DIR...}; shift
ROUNDS=${ROUNDS:-5}
OUT=${OUT:-build/bench/shared_weights_raw.txt}
mkdir -p "$(dirname "$OUT")"; : >"$OUT"
T=$(mktemp -d /tmp/shared-w.XXXXXX)
DP=
cleanup() { [ -n "$DP" ] && kill -KILL "$DP" 2>/dev/null; jobs -p | xargs -r kill -KILL 2>/dev/null
	    rm -f /dev/shm/polynet.pnsw-$$-*; rm -rf "$T"; }
trap cleanup EXIT
kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/smaps_rollup"; }
now_ms() { date +%s%3N; }
start() {	# start BUILD STATE
	"$1/rel/polynetd" --socket "$T/s" --state "$2" --workers 2 >"$T/d" 2>>"$T/e" &
	DP=$!
	for _ in $(seq 300); do grep -q '^ready' "$T/d" && return 0; sleep 0.02; done
	echo "no ready line: $(tail -3 "$T/e")" >&2; exit 1
}
stop() { kill "$DP"; wait "$DP" 2>/dev/null; DP=; }
for _ in $(seq 201); do echo "the quick brown fox jumps over the lazy dog"; done >"$T/same.txt"
# FIRST_CTL: the polyctl that times the jobs (an old build's prints no "first")
first_p50() {	# prints "first_us p50_us" of a run of same.txt, batch 1
	"${FIRST_CTL:-$1/rel/polyctl}" run use-lite --socket "$T/s" --text-file "$T/same.txt" --batch 1 |
		sed -n 's/.*p50 \([0-9]*\) us.*first \([0-9]*\) us.*/\2 \1/p'
}
one_result() { echo "hello world" | "$1/rel/polyctl" run use-lite --socket "$T/s" \
		--text-file /dev/stdin >/dev/null; }

for r in $(seq "$ROUNDS"); do
	i=0
	for B in "$@"; do
		i=$((i + 1)); st=pnsw-$$-$i
		rm -f /dev/shm/polynet."$st".*
		start "$B" "$st"
		"$B/rel/polyctl" load "$PNB" --socket "$T/s" >/dev/null || { echo "$B: load"; exit 1; }
		echo "$B first_after_load $(first_p50 "$B")" >>"$OUT"
		if [ "$r" = 1 ]; then	# memory once per build: it does not vary
			pids=()
			for c in $(seq 16); do
				mkfifo "$T/f$c"
				{ echo "hello world"; sleep 6; } >"$T/f$c" &
				"$B/rel/polyctl" run use-lite --socket "$T/s" --text-file "$T/f$c" \
					>/dev/null 2>&1 &
				pids+=($!)
			done
			sleep 3
			cpss=0; cpd=0
			for p in "${pids[@]}"; do
				cpss=$((cpss + $(kb "$p" Pss))); cpd=$((cpd + $(kb "$p" Private_Dirty)))
			done
			echo "$B mem daemon_pss_kB $(kb $DP Pss) daemon_private_dirty_kB" \
			     "$(kb $DP Private_Dirty) clients_pss_kB $cpss" \
			     "client_private_dirty_kB_each $((cpd / 16))" \
			     "model_kB $(($(stat -c %s "$PNB") / 1024))" >>"$OUT"
			wait "${pids[@]}" 2>/dev/null
			rm -f "$T"/f*
		fi
		# restart with the derived region reattached, then with it removed
		for mode in reattach repack; do
			t0=$(now_ms); stop
			[ $mode = repack ] && rm -f /dev/shm/polynet."$st".x*
			start "$B" "$st"; one_result "$B"
			echo "$B restart_$mode $(($(now_ms) - t0))" >>"$OUT"
		done
		stop; start "$B" "$st"
		echo "$B first_after_restart $(first_p50 "$B")" >>"$OUT"
		stop
		rm -f /dev/shm/polynet."$st".*
	done
done
python3 - "$OUT" <<'PY'
import sys, statistics as st, collections
rows = collections.defaultdict(list); mem = {}
for line in open(sys.argv[1]):
    f = line.split(); b, k = f[0], f[1]
    if k == 'mem': mem[b] = dict(zip(f[2::2], map(int, f[3::2])))
    elif len(f) > 2: rows[(b, k)].append([float(x) for x in f[2:]])
for b in dict.fromkeys(k[0] for k in rows):
    m = mem.get(b, {})
    if m:
        tot = m['daemon_pss_kB'] + m['clients_pss_kB']
        print(f"{b}: daemon Pss {m['daemon_pss_kB']} kB (private dirty {m['daemon_private_dirty_kB']}), "
              f"16 clients Pss {m['clients_pss_kB']} kB, private dirty {m['client_private_dirty_kB_each']} kB each; "
              f"total {tot} kB = {tot / m['model_kB']:.2f}x the model's {m['model_kB']} kB")
    for k in ('first_after_load', 'first_after_restart'):
        v = rows.get((b, k))
        if v:
            ratios = [x[0] / x[1] for x in v]
            print(f"{b}: {k}: first {st.median(x[0] for x in v):.0f} us, p50 {st.median(x[1] for x in v):.0f} us, "
                  f"first/p50 median {st.median(ratios):.2f} (rounds {', '.join(f'{r:.2f}' for r in ratios)})")
    for k in ('restart_reattach', 'restart_repack'):
        v = rows.get((b, k))
        if v:
            print(f"{b}: {k}: SIGTERM to first result median {st.median(x[0] for x in v):.0f} ms "
                  f"({', '.join(f'{x[0]:.0f}' for x in v)})")
PY
