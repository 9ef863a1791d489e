#!/usr/bin/env bash
# bench/gpu.sh, the CUDA backend's benchmark for machines with a GPU, run on the
# Driver API double (twins) with tiny counts: every step runs and prints the
# lines bench/RESULTS.md quotes, so that the script works the day a GPU does.
# The figures themselves mean nothing here.
set -u
cd "$(dirname "$0")/../.."
B=${POLYNET_BUILD:-build}
DOUBLE=$B/rel/tests/cuda_double/libcuda.so.1
for f in "$DOUBLE" "$B/rel/bench/backend_latency" "$B/rel/tests/daemon_client"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "skip: $f not built (make build)"; exit 77; }
done
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
"$B/rel/tests/daemon_client" mkmodel fixture "$T/fx.pnb" || exit 1
POLYNET_LIBCUDA=$DOUBLE CUDA_DOUBLE_EXEC=twin MODEL=$T/fx.pnb ROUNDS=1 RUNS=20 SUITES=0 \
	SECONDS_D=1 LAT_T=8 THR_B=4 THR_T=8 OUT=$T/gpu.txt B=$B bash bench/gpu.sh >"$T/log" 2>&1 || { cat "$T/log"; exit 1; }
for k in "backend=cuda graphs=1 B=1 T=8 " "backend=cuda graphs=0 B=1 T=8 " \
	 "backend=cpu graphs=- B=4 T=8 " "backend=cuda graphs=1 B=1 T=1 " "^daemon B=1 T=8 jobs" \
	 "^ratio daemon/in-process p50 at B=1 T=8: [0-9.]*$"; do
	grep -q -- "$k" "$T/gpu.txt" || { echo "FAIL: no line '$k' in:"; cat "$T/gpu.txt"; exit 1; }
done
grep -q "p50_us=nan" "$T/gpu.txt" && { echo "FAIL: a shape unmeasured"; cat "$T/gpu.txt"; exit 1; }
echo "bench/gpu.sh on the double: every line present"
