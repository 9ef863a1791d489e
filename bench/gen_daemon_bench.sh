#!/usr/bin/env bash
# Generation latency through polynetd against in process (issue 15), on
# stories260k, in one run: bench/gen_daemon_bench.c alternates, prompt by
# prompt, the in-process loop (lib/gen: prefill, then sample + one decode
# step per token) and one PN_OP_GENERATE through the daemon (a token CQE per
# token, the client spinning on its CQ), greedy, the same prompts, the same
# tokens (checked). Target: the daemon adds <= 5 us per token (p50).
#
# Output: JSON lines on stdout, one per mode, then the differences:
#   {"bench":"gen_daemon","mode":"inprocess"|"daemon","prompts":P,"tokens":N,
#    "ttft_us_p50":X,"ttft_us_p99":X,          time to first token: from the
#                                              prefill call / the SQE submit
#                                              to the first token in hand
#    "token_us_p50":X,"token_us_p99":X,"token_us_p999":X,"token_us_mean":X}
#                                              between consecutive tokens in
#                                              hand (nearest-rank percentiles)
#   {"bench":"gen_daemon","mode":"delta",...}  the daemon's less in process's,
#    the same keys, "target_token_us":5, "met": the p50 delta <= 5,
#    "same_tokens":true (the run fails otherwise)
# Each line also says "run":K (RUNS runs, each with a fresh daemon); the
# context (CPUs, load, pinning) goes to stderr.
# Knobs: B (build dir), ROUNDS (3: every prompt of PROMPTS this many times
# each way), MAX_TOKENS (64), PROMPTS (tests/data/llama/prompts.txt), WAIT
# (spin | sleep: how the client waits for its CQEs), RUNS (1), DAEMON_CPU /
# CLIENT_CPU (the daemon's one worker is pinned to CPU 0; the bench process,
# both modes, to CLIENT_CPU, default 1).
set -u -o pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
POLYCTL=$B/rel/polyctl
POLYNETD=$B/rel/polynetd
BIN=$B/rel/bench/gen_daemon_bench
ROUNDS=${ROUNDS:-3}
MAX_TOKENS=${MAX_TOKENS:-64}
PROMPTS=${PROMPTS:-tests/data/llama/prompts.txt}
WAIT=${WAIT:-spin}
RUNS=${RUNS:-1}
CLIENT_CPU=${CLIENT_CPU:-1}
die() { echo "bench/gen_daemon_bench.sh: $*" >&2; exit 1; }
for f in "$POLYCTL" "$POLYNETD" "$B/rel/libpolynet.a"; do [ -e "$f" ] || die "$f: build it first"; done
make -s --no-print-directory B="$B" "$BIN" >/dev/null || die "cannot build $BIN"

T=$(mktemp -d /tmp/gen-bench.XXXXXX)
SOCK=$T/polynetd.sock
STATE=pndg-$$
DPID=
cleanup() {
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
	rm -f /dev/shm/polynet."$STATE".* 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
"$POLYCTL" compile --from llama2c tests/data/llama/stories260k.bin -o "$T/llama.pnb" >/dev/null ||
	die "compile stories260k"
PIN=
[ "$(nproc)" -gt 1 ] && command -v taskset >/dev/null && PIN="taskset -c $CLIENT_CPU"
echo "gen_daemon_bench: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), load $(cut -d' ' -f1-3 /proc/loadavg); daemon: 1 worker on CPU 0; client: ${PIN:-unpinned}, waits by $WAIT" >&2
for run in $(seq "$RUNS"); do
	: >"$T/d.out"
	"$POLYNETD" --socket "$SOCK" --state "$STATE" --workers 1 --backend cpu >"$T/d.out" 2>"$T/d.err" &
	DPID=$!
	for _ in $(seq 100); do grep -q '^ready' "$T/d.out" && break; sleep 0.1; done
	grep -q '^ready' "$T/d.out" || die "polynetd: $(cat "$T/d.err")"
	$PIN "$BIN" "$SOCK" "$T/llama.pnb" "$PROMPTS" "$ROUNDS" "$MAX_TOKENS" "$WAIT" |
		sed "s/^{\"bench\":\"gen_daemon\"/{\"bench\":\"gen_daemon\",\"run\":$run/" ||
		die "the bench failed: $(tail -3 "$T/d.err")"
	kill -TERM "$DPID"; wait "$DPID"; DPID=
	rm -f /dev/shm/polynet."$STATE".* 2>/dev/null
done
