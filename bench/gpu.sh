#!/usr/bin/env bash
# bench/gpu.sh - the CUDA backend's figures, for a machine with a GPU
# (docs/cuda_backend.md; bench/RESULTS.md "CUDA backend (issue 13)"):
#  1. the daemon's suites against the real driver (POLYNET_TEST_LIBCUDA=system);
#  2. compute-sanitizer (memcheck) over a few runs of the real model, where installed;
#  3. in process (bench/backend_latency): USE lite at batch 1 x 16 tokens (latency)
#     and 32 x 128 (throughput), graphs on and off alternated, ROUNDS rounds, the
#     CPU backend at the same shapes in the same run; batch 1 x 1 token bounds the
#     launch overhead of a whole-model graph replay from above;
#  4. submission to completion through polynetd (daemon_client fairjob, one job in
#     flight) against the in-process p50 at the same shape.
# Lines go to stdout and $OUT (default bench/results/gpu.txt): the measurements
# as backend_latency prints them, then "daemon ..." and "ratio ..." lines.
# With POLYNET_LIBCUDA set to the Driver API double it runs as a smoke test
# (tests/integration/test_gpu_bench.sh): every step runs, no figure means anything.
# Knobs: B (build dir), MODEL (default $B/use.pnb), ROUNDS (3), RUNS (1000),
# SUITES (1: run step 1), SECONDS_D (daemon seconds, 5), LAT_T (the latency
# shape's tokens, 16), THR_B and THR_T (the throughput shape, 32 x 128).
set -u -o pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
MODEL=${MODEL:-$B/use.pnb}
ROUNDS=${ROUNDS:-3}
RUNS=${RUNS:-1000}
SUITES=${SUITES:-1}
SECONDS_D=${SECONDS_D:-5}
LAT_T=${LAT_T:-16}
THR_B=${THR_B:-32}
THR_T=${THR_T:-128}
OUT=${OUT:-bench/results/gpu.txt}
BL=$B/rel/bench/backend_latency
DC=$B/rel/tests/daemon_client
[ -x "$BL" ] && [ -x "$DC" ] && [ -f "$MODEL" ] || { echo "gpu.sh: make build model first"; exit 1; }
if [ -z "${POLYNET_LIBCUDA:-}" ] && ! ldconfig -p 2>/dev/null | grep -q libcuda.so.1; then
	echo "gpu.sh: no libcuda.so.1 here: nothing to measure (docs/cuda_backend.md)"
	exit 0
fi
mkdir -p "$(dirname "$OUT")"
: >"$OUT"
say() { echo "$*" | tee -a "$OUT"; }
say "# $(date -u +%F) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"

if [ "$SUITES" = 1 ]; then
	lib=system; [ -n "${POLYNET_LIBCUDA:-}" ] && lib=$POLYNET_LIBCUDA
	POLYNET_TEST_LIBCUDA=$lib bash tests/run_all.sh integration-cuda | tail -n 1 | sed 's/^/suites: /' | tee -a "$OUT"
fi
if command -v compute-sanitizer >/dev/null; then
	compute-sanitizer --tool memcheck --error-exitcode 3 "$BL" cuda "$MODEL" 2 16 5 >/dev/null 2>"$B/sanitizer.log"
	say "compute-sanitizer memcheck: rc=$? (log $B/sanitizer.log)"
else
	say "compute-sanitizer: not installed"
fi

# median of field F over lines matching the shape
med() { grep -- "$1" "$B/gpu_raw.txt" | sed -n "s/.* $2=\([0-9.]*\).*/\1/p" | sort -g |
	awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "nan" }'; }
: >"$B/gpu_raw.txt"
for r in $(seq "$ROUNDS"); do
	for shape in "1 1" "1 $LAT_T" "$THR_B $THR_T"; do
		set -- $shape
		n=$RUNS; [ "$1" -gt 1 ] && n=$((RUNS / 10 + 1))
		POLYNET_CUDA_GRAPHS=1 "$BL" cuda "$MODEL" "$1" "$2" "$n" 2>>"$B/gpu_err.txt" >>"$B/gpu_raw.txt" || exit 1
		POLYNET_CUDA_GRAPHS=0 "$BL" cuda "$MODEL" "$1" "$2" "$n" 2>>"$B/gpu_err.txt" >>"$B/gpu_raw.txt" || exit 1
		if [ "$2" -gt 1 ]; then
			"$BL" cpu "$MODEL" "$1" "$2" "$((n / 10 + 1))" 2>>"$B/gpu_err.txt" >>"$B/gpu_raw.txt" || exit 1
		fi
	done
done
for shape in "B=1 T=1" "B=1 T=$LAT_T" "B=$THR_B T=$THR_T"; do
	for eng in "cuda graphs=1" "cuda graphs=0" "cpu graphs=-"; do
		k="backend=${eng% *} ${eng#* } $shape "
		grep -q -- "$k" "$B/gpu_raw.txt" || continue
		say "$k p50_us=$(med "$k" p50_us) p99_us=$(med "$k" p99_us) p999_us=$(med "$k" p999_us) seq_per_s=$(med "$k" seq_per_s) (median of $ROUNDS)"
	done
done

T=$(mktemp -d); trap 'kill $dpid 2>/dev/null; rm -rf "$T"' EXIT
"$B/rel/polynetd" --socket "$T/s" --state pngpu-$$ --backend cuda --workers 1 >"$T/out" 2>"$T/err" &
dpid=$!
for _ in $(seq 100); do grep -q '^ready' "$T/out" && break; sleep 0.1; done
grep -q '^ready' "$T/out" || { say "daemon: did not start: $(tail -2 "$T/err")"; exit 1; }
"$B/rel/polyctl" load "$MODEL" --socket "$T/s" >/dev/null || exit 1
name=$("$B/rel/polyctl" list --socket "$T/s" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["models"][0]["name"])')
line=$("$DC" fairjob "$T/s" "$name" "$SECONDS_D" 1 1 "$LAT_T" 1) || exit 1
say "daemon B=1 T=$LAT_T $line (ms)"
d50=$(echo "$line" | sed -n 's/.* p50 \([0-9.e+-]*\).*/\1/p')
i50=$(med "backend=cuda graphs=1 B=1 T=$LAT_T " p50_us)
say "ratio daemon/in-process p50 at B=1 T=$LAT_T: $(python3 -c "print(f'{$d50 * 1000 / $i50:.3f}')")"
kill -TERM $dpid; wait $dpid
