#!/usr/bin/env bash
# daemon_lib.sh - sourced by tests/integration/test_daemon_*.sh: finds the
# binaries, builds the test client, starts and stops polynetd on a private
# socket with private persistent-region names, and cleans up on exit.
B=${POLYNET_BUILD:-build}
POLYCTL=$B/rel/polyctl
POLYNETD=${POLYNETD:-$B/rel/polynetd}
DC=$B/rel/tests/daemon_client
for f in "$POLYCTL" "$POLYNETD" "$DC"; do
	if [ ! -x "$f" ]; then
		echo "skip: $f not built (make build)"; exit 77
	fi
done
# POLYNET_TEST_BACKEND=cpu (the default) or cuda: the backend of every daemon
# the suites start. cuda runs on the Driver API double (tests/cuda_double/)
# unless POLYNET_TEST_LIBCUDA names another driver (a real one: "system").
BACKEND=${POLYNET_TEST_BACKEND:-cpu}
BACKEND_ARGS=(--backend "$BACKEND")
if [ "$BACKEND" = cuda ] && [ "${POLYNET_TEST_LIBCUDA:-double}" = double ]; then
	DOUBLE=$B/rel/tests/cuda_double/libcuda.so.1
	[ -f "$DOUBLE" ] || { echo "skip: $DOUBLE not built (make build)"; exit 77; }
	export POLYNET_LIBCUDA=$DOUBLE
	# the kernels' CPU twins: the interpreter is too slow for 64 clients
	export CUDA_DOUBLE_EXEC=${CUDA_DOUBLE_EXEC:-twin}
elif [ "$BACKEND" = cuda ] && [ "$POLYNET_TEST_LIBCUDA" != system ]; then
	export POLYNET_LIBCUDA=$POLYNET_TEST_LIBCUDA
fi
# needs_backend NAME: skips a suite about one backend's own machinery
needs_backend() {
	[ "$BACKEND" = "$1" ] || { echo "skip: about the $1 backend (this run: $BACKEND)"; exit 77; }
}
# same_embeddings A B: the two outputs agree; exactly on the CPU (one code
# path), within 1e-4 (1 + |a|) on CUDA, the kernels' bar against the CPU
# (tests/ptx/test_ptx_gemm.c says why)
same_embeddings() {
	if [ "$BACKEND" = cpu ]; then
		cmp -s "$1" "$2"
	else
		python3 "$(dirname "${BASH_SOURCE[0]}")/same_embeddings.py" 1e-4 "$1" "$2"
	fi
}
T=$(mktemp -d /tmp/pnd-test.XXXXXX)
SOCK=$T/polynetd.sock
STATE=pndt-$$
DAEMON_PID=
cleanup() {
	[ -n "$DAEMON_PID" ] && kill -KILL "$DAEMON_PID" 2>/dev/null
	for p in ${CLIENT_PIDS:-}; do kill -KILL "$p" 2>/dev/null; done
	rm -f /dev/shm/polynet."$STATE".* 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/daemon.err" ] && sed 's/^/  daemon| /' "$T/daemon.err" | tail -20; exit 1; }


# start_daemon [ARGS...]: waits for the "ready" line (10 s at most)
start_daemon() {
	: >"$T/daemon.out"
	"$POLYNETD" --socket "$SOCK" --foreground --state "$STATE" "${BACKEND_ARGS[@]}" "$@" \
		>"$T/daemon.out" 2>>"$T/daemon.err" &
	DAEMON_PID=$!
	for _ in $(seq 100); do
		if grep -q '^ready' "$T/daemon.out"; then
			# a suite run for a backend runs on it, not on a fallback
			[ ${#BACKEND_ARGS[@]} -eq 0 ] || grep -q "^ready .* backend=$BACKEND" "$T/daemon.out" ||
				fail "asked for backend $BACKEND: $(cat "$T/daemon.out")"
			return 0
		fi
		kill -0 "$DAEMON_PID" 2>/dev/null || fail "polynetd exited before ready"
		sleep 0.1
	done
	fail "no ready line within 10 s"
}

# stop_daemon: SIGTERM, expects exit 0 and the socket gone
stop_daemon() {
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID"; local rc=$?
	DAEMON_PID=
	[ $rc -eq 0 ] || fail "polynetd exited $rc after SIGTERM"
	[ ! -e "$SOCK" ] || fail "socket $SOCK left behind"
}

pctl() { "$POLYCTL" "$@" --socket "$SOCK"; }

# nobody_bin PATH: PATH where uid nobody can run it, else a copy in $T. The
# build sits in the clone, which may be under a 0700 directory (mktemp -d).
nobody_bin() {
	if runuser -u nobody -- test -x "$1" 2>/dev/null; then
		echo "$1"
		return
	fi
	mkdir -p "$T/nobody" && chmod 755 "$T" "$T/nobody"
	[ -x "$T/nobody/${1##*/}" ] || cp "$1" "$T/nobody/"
	echo "$T/nobody/${1##*/}"
}
# as_nobody CMD ARGS...: CMD run as the second uid, the attacker of the tests
as_nobody() { local bin; bin=$(nobody_bin "$1"); shift; runuser -u nobody -- "$bin" "$@"; }
nctl() { as_nobody "$POLYCTL" "$@" --socket "$SOCK"; }
