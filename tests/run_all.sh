#!/usr/bin/env bash
# Runs PolyNet's tests and prints one closing line: "N passed, N failed".
#   tests/run_all.sh [unit|integration|integration-cuda|fuzz]...   (default: all)
# Unit suites run under ASan/UBSan; integration scripts under tests/integration
# exit 0 pass, 1 fail, 77 skip (liburing's convention) and print why.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export POLYNET_BUILD=$B
pass=0 fail=0 skip=0 failed=()
# kernels of kernels/ptx/ that ran in the PTX interpreter, in suites that passed
PTX_RAN=$(mktemp)
trap 'rm -f "$PTX_RAN"' EXIT

run() {	# name, command...
	local name=$1; shift
	local log; log=$(mktemp)
	local t0=$SECONDS
	PTXI_RUN_LOG=$log.ptx "$@" >"$log" 2>&1
	local rc=$?
	[ $rc -eq 0 ] && [ -f "$log.ptx" ] && cat "$log.ptx" >>"$PTX_RAN"
	rm -f "$log.ptx"
	case $rc in
	0) pass=$((pass + 1)); printf 'PASS %-44s %3ds\n' "$name" $((SECONDS - t0)) ;;
	77) skip=$((skip + 1)); printf 'SKIP %-44s %s\n' "$name" "$(tail -n 1 "$log")" ;;
	*) fail=$((fail + 1)); failed+=("$name")
	   printf 'FAIL %-44s rc=%d\n' "$name" $rc; sed 's/^/    | /' "$log" | tail -n 40 ;;
	esac
	rm -f "$log"
}

suites=("$@"); [ ${#suites[@]} -eq 0 ] && suites=(unit integration integration-cuda fuzz)
for s in "${suites[@]}"; do
	case $s in
	unit)
		for t in "$B"/asan/tests/test_*; do
			[ -x "$t" ] && run "unit/$(basename "$t")" "$t"
		done ;;
	integration)
		for t in tests/integration/test_*.sh; do
			[ -f "$t" ] && run "integration/$(basename "$t" .sh)" bash "$t"
		done ;;
	integration-cuda)
		# the daemon's suites again, on the CUDA backend over the Driver
		# API double (tests/cuda_double/; daemon_lib.sh sets it up)
		for t in tests/integration/test_daemon_*.sh; do
			[ -f "$t" ] && run "integration-cuda/$(basename "$t" .sh)" \
				env POLYNET_TEST_BACKEND=cuda bash "$t"
		done ;;
	fuzz)
		for f in "$B"/fuzz/fuzz_*; do
			[ -x "$f" ] || continue
			n=$(basename "$f")
			corpus=tests/fuzz/corpus_${n#fuzz_}
			work=$(mktemp -d)
			cp -r "$corpus"/. "$work"/ 2>/dev/null
			run "fuzz/$n (${FUZZ_SECONDS}s)" "$f" -max_total_time="$FUZZ_SECONDS" \
				-rss_limit_mb=2048 -print_final_stats=1 "$work"
			rm -rf "$work"
		done ;;
	*) echo "run_all: unknown suite $s" >&2; exit 2 ;;
	esac
done

echo
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
# every .entry of kernels/ptx/ against those a passing suite ran (checked
# against its CPU twin there: the kernels' suites compare every launch)
ptx_all=$(for f in kernels/ptx/*.ptx; do
	[ -f "$f" ] && sed -n "s/^[[:space:]]*\.visible[[:space:]]*\.entry[[:space:]]*\([A-Za-z_0-9]\{1,\}\).*/$(basename "$f") \1/p" "$f"
done | sort -u)
ptx_ran=$(awk '{ n = split($1, p, "/"); print p[n], $2 }' "$PTX_RAN" | sort -u |
	  comm -12 - <(echo "$ptx_all"))
ptx_line=
if [ -n "$ptx_all" ]; then
	ptx_line="; PTX kernels run in the interpreter: $(echo "$ptx_ran" | grep -c .) of $(echo "$ptx_all" | grep -c .)"
	missing=$(comm -23 <(echo "$ptx_all") <(echo "$ptx_ran") | awk '{ print $2 }' | tr '\n' ' ')
	[ -n "$missing" ] && ptx_line="$ptx_line (not run: ${missing% })"
fi
echo "$pass passed, $fail failed, $skip skipped$ptx_line"
[ "$fail" -eq 0 ]
