#!/usr/bin/env bash
# make demo, the daemon half: start polynetd (CPU backend), load the real
# model with `polyctl load`, run several client processes against it at
# once, print their answers and the latency percentiles, stop it cleanly.
#   scripts/demo_daemon.sh [POLYCTL] [USE.pnb] [POLYNETD]
set -euo pipefail
polyctl=${1:-build/rel/polyctl}
pnb=${2:-build/use.pnb}
polynetd=${3:-$(dirname "$polyctl")/polynetd}
s=scripts/demo_sentences.txt
clients=${CLIENTS:-4}
hr() { printf '\n== %s\n' "$*"; }

T=$(mktemp -d /tmp/polynet-demo.XXXXXX)
sock=$T/polynetd.sock
state=pnd-demo-$$
dpid=
cleanup() {
	[ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null
	rm -f /dev/shm/polynet."$state".*
	rm -rf "$T"
}
trap cleanup EXIT

hr "Start polynetd (CPU backend) on $sock"
"$polynetd" --socket "$sock" --foreground --state "$state" >"$T/out" 2>"$T/err" &
dpid=$!
for _ in $(seq 100); do grep -q '^ready' "$T/out" && break; sleep 0.1; done
cat "$T/out"

hr "polyctl load $pnb"
"$polyctl" load "$pnb" --socket "$sock"
"$polyctl" list --socket "$sock"

hr "$clients client processes at once, each embedding $s through the daemon"
pids=()
for i in $(seq "$clients"); do
	"$polyctl" run use-lite --socket "$sock" --text-file "$s" >"$T/c$i" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
for i in $(seq "$clients"); do
	echo "-- client $i"
	cat "$T/c$i"
done

hr "Same answers as the in-process executor?"
"$polyctl" run use-lite --socket "$sock" --text-file "$s" --json >"$T/remote.jsonl"
"$polyctl" run "$pnb" --text-file "$s" --json >"$T/local.jsonl"
if cmp -s "$T/remote.jsonl" "$T/local.jsonl"; then
	echo "yes: $(wc -l <"$T/remote.jsonl") embeddings identical, byte for byte"
else
	echo "NO: the daemon's output differs"; exit 1
fi

hr "Latency percentiles the daemon measured (submit to completion, per job)"
"$polyctl" stat --socket "$sock"

hr "Stop polynetd (SIGTERM)"
"$polyctl" unload use-lite --socket "$sock"
kill -TERM "$dpid"
wait "$dpid"
dpid=
cat "$T/err"
