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
# Each line also says "run":K (RUNS runs, each with a fresh daemon).
#
# Then the realtime part (PARTS="tokens realtime"): realtime jobs of the
# fixture encoder on the same daemon (daemon_client rtlat: a job every 2 ms,
# round trip at the client), alone and while SESSIONS (8) generations run
# (one client process keeping them going), with 0 and 1 dedicated realtime
# workers (--rt-workers):
#   {"bench":"gen_daemon","mode":"realtime","rt_workers":R,"with":"nothing"|
#    "8 generations","p50_us":X,"p99_us":X,"p999_us":X,"jobs":N,"refused":N,
#    "sessions_per_step":X}       (the decoder's STAT gen, over the whole run)
# The realtime client runs at SCHED_FIFO when root (RTPRIO= turns it off), as
# bench/ring_bench.sh's does: on 2 shared cores its own wake-up otherwise
# queues behind the other processes, which no daemon can help.
# The context (CPUs, load, pinning) goes to stderr.
# Knobs: B (build dir), ROUNDS (3: every prompt of PROMPTS this many times
# each way), MAX_TOKENS (64), PROMPTS (tests/data/llama/prompts.txt), WAIT
# (spin | sleep: how the client waits for its CQEs), RUNS (1), IDLE_SPIN_US
# (the daemon's --idle-spin-us: 50, its default, lets the worker sleep
# between two prompts, so each daemon job's first token pays the doorbell's
# wake-up; 20000 keeps it spinning through the in-process turn, so the
# difference is the ring path alone). The daemon's one worker is pinned to
# CPU 0; the bench runs its in-process turns on that CPU too (the same core
# computes in both modes: INPROC_CPU, 0) and waits for the daemon from
# CLIENT_CPU (1). With IDLE_SPIN_US past 1000 the worker spins on CPU 0 while
# the in-process turn runs, so that turn moves to CLIENT_CPU instead.
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
IDLE_SPIN_US=${IDLE_SPIN_US:-50}
if [ "$IDLE_SPIN_US" -gt 1000 ]; then INPROC_CPU=${INPROC_CPU:-$CLIENT_CPU}; else INPROC_CPU=${INPROC_CPU:-0}; fi
PARTS=${PARTS:-"tokens realtime"}
SESSIONS=${SESSIONS:-8}
RT_SECONDS=${RT_SECONDS:-2}
DC=$B/rel/tests/daemon_client
if [ -z "${RTPRIO+x}" ]; then
	RTPRIO=
	[ "$(id -u)" -eq 0 ] && command -v chrt >/dev/null && RTPRIO="chrt -f 1"
fi
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
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
CPUS="$INPROC_CPU $CLIENT_CPU"
[ "$(nproc)" -gt 1 ] || CPUS="-1 -1"
echo "gen_daemon_bench: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), load $(cut -d' ' -f1-3 /proc/loadavg); daemon: 1 worker on CPU 0, --idle-spin-us $IDLE_SPIN_US; in-process turns on CPU $INPROC_CPU, the client on CPU $CLIENT_CPU, waiting by $WAIT" >&2
start() {	# start [polynetd options]
	: >"$T/d.out"
	"$POLYNETD" --socket "$SOCK" --state "$STATE" --workers 1 --backend cpu "$@" \
		>"$T/d.out" 2>"$T/d.err" &
	DPID=$!
	for _ in $(seq 100); do grep -q '^ready' "$T/d.out" && break; sleep 0.1; done
	grep -q '^ready' "$T/d.out" || die "polynetd: $(cat "$T/d.err")"
}
stop() {
	kill -TERM "$DPID"; wait "$DPID"; DPID=
	rm -f /dev/shm/polynet."$STATE".* 2>/dev/null
}
part tokens && for run in $(seq "$RUNS"); do
	start --idle-spin-us "$IDLE_SPIN_US"
	# shellcheck disable=SC2086
	"$BIN" "$SOCK" "$T/llama.pnb" "$PROMPTS" "$ROUNDS" "$MAX_TOKENS" "$WAIT" $CPUS |
		sed "s/^{\"bench\":\"gen_daemon\"/{\"bench\":\"gen_daemon\",\"run\":$run/" ||
		die "the bench failed: $(tail -3 "$T/d.err")"
	stop
done
rt_line() {	# rt_line RT_WORKERS WITH: one rtlat run as a JSON line
	local p50 p99 p999 n refused sps
	read -r p50 p99 p999 n refused <"$T/rt.out" || die "rtlat: $(cat "$T/rt.out")"
	sps=$("$POLYCTL" stat --json --socket "$SOCK" | python3 -c "import json,sys
print(next((m['gen']['sessions_per_step'] for m in json.load(sys.stdin)['models'] if m.get('decoder')), 0))")
	printf '{"bench":"gen_daemon","mode":"realtime","rt_workers":%s,"with":"%s","p50_us":%s,"p99_us":%s,"p999_us":%s,"jobs":%s,"refused":%s,"sessions_per_step":%s}\n' \
		"$1" "$2" "$p50" "$p99" "$p999" "$n" "$refused" "$sps"
}
if part realtime; then
	[ -x "$DC" ] || die "$DC: build it first (make build)"
	"$DC" mkmodel fixture "$T/fx.pnb" || die "mkmodel"
	for rtw in 0 1; do
		start --rt-workers "$rtw"
		"$POLYCTL" load "$T/llama.pnb" --socket "$SOCK" >/dev/null || die "load llama"
		"$POLYCTL" load "$T/fx.pnb" --socket "$SOCK" >/dev/null || die "load fixture"
		$RTPRIO "$DC" rtlat "$SOCK" fixture "$RT_SECONDS" 2000 >"$T/rt.out" || die "rtlat"
		rt_line "$rtw" nothing
		"$BIN" load "$SOCK" llama "$(python3 -c "print($RT_SECONDS + 0.5)")" "$SESSIONS" \
			>"$T/load.out" &
		lpid=$!
		sleep 0.2
		$RTPRIO "$DC" rtlat "$SOCK" fixture "$RT_SECONDS" 2000 >"$T/rt.out" || die "rtlat"
		wait "$lpid" || die "the generations' load failed"
		rt_line "$rtw" "$SESSIONS generations"
		stop
	done
fi
