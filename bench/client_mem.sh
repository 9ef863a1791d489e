#!/usr/bin/env bash
# Memory of one client that only tokenizes (`polyctl run NAME` through
# polynetd, USE lite): Private_Dirty and Pss of the client process and of the
# daemon, from /proc/PID/smaps_rollup, while the client is connected, has
# the model open and waits for the end of its input (a FIFO held open). Each build dir given is measured with its own polynetd.
#   bench/client_mem.sh MODEL.pnb BUILD_DIR...      (e.g. build /tmp/old/build)
# Prints one line per build: build, client Private_Dirty / Pss, daemon
# Private_Dirty / Pss, all in kB.
set -u
cd "$(dirname "$0")/.."
PNB=${1:?usage: client_mem.sh MODEL.pnb BUILD_DIR...}; shift
T=$(mktemp -d /tmp/client-mem.XXXXXX)
DP=
cleanup() { [ -n "$DP" ] && kill -KILL "$DP" 2>/dev/null; rm -f /dev/shm/polynet.pncm-$$*; rm -rf "$T"; }
trap cleanup EXIT
kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/smaps_rollup"; }
echo "build client_private_dirty_kB client_pss_kB daemon_private_dirty_kB daemon_pss_kB"
i=0
for B in "$@"; do
	i=$((i + 1))
	"$B/rel/polynetd" --socket "$T/s$i" --state "pncm-$$-$i" --workers 1 >"$T/d$i" 2>"$T/e$i" &
	DP=$!
	for _ in $(seq 100); do grep -q '^ready' "$T/d$i" && break; sleep 0.1; done
	"$B/rel/polyctl" load "$PNB" --socket "$T/s$i" >"$T/l$i" || { echo "$B: load failed"; exit 1; }
	name=$(awk '{ print $1; exit }' "$T/l$i")
	mkfifo "$T/f$i"
	# one line, then the writer keeps the FIFO open for 4 s: the client waits
	{ echo "hello world"; sleep 4; } >"$T/f$i" &
	"$B/rel/polyctl" run "$name" --socket "$T/s$i" --text-file "$T/f$i" >"$T/o$i" 2>&1 &
	cp=$!
	sleep 2
	echo "$B $(kb $cp Private_Dirty) $(kb $cp Pss) $(kb $DP Private_Dirty) $(kb $DP Pss)"
	wait "$cp" || { echo "$B: the client failed: $(tail -1 "$T/o$i")"; exit 1; }
	grep -q 'tokens' "$T/o$i" || { echo "$B: no result from the client"; exit 1; }
	kill "$DP"; wait "$DP" 2>/dev/null; DP=
done
