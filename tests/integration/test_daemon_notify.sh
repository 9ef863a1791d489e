#!/usr/bin/env bash
# polynetd's readiness reaches systemd (Type=notify, daemon/polynetd.service):
#  - with $NOTIFY_SOCKET a filesystem path, one datagram "READY=1" arrives
#    there after the ready line, sent by the daemon's own pid (NotifyAccess=main:
#    checked with SO_PASSCRED), and the daemon serves;
#  - the same with an abstract socket ("@name", as systemd passes it);
#  - without $NOTIFY_SOCKET nothing breaks (the other daemon tests).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh

# listen ADDR OUT: a datagram listener writing "PID MESSAGE" lines to OUT (10 s)
listen() {
	python3 - "$1" "$2" <<'PY' &
import socket, struct, sys
addr, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
open(out + ".up", "w").close()
s.settimeout(10)
with open(out, "w") as f:
    try:
        while True:
            msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
            pid = next((struct.unpack("iII", d[:12])[0] for lvl, typ, d in anc
                        if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS), -1)
            f.write(f"{pid} {msg.decode(errors='replace')}\n")
            f.flush()
    except socket.timeout:
        pass
PY
	LISTENER=$!
	for _ in $(seq 50); do [ -e "$2.up" ] && return 0; sleep 0.1; done
	fail "the notify listener did not start"
}

check_ready() {	# check_ready ADDR: start polynetd with NOTIFY_SOCKET=ADDR, expect READY=1 from it
	local out=$T/notify.$RANDOM
	listen "$1" "$out"
	export NOTIFY_SOCKET=$1
	start_daemon --workers 1
	unset NOTIFY_SOCKET
	for _ in $(seq 50); do [ -s "$out" ] && break; sleep 0.1; done
	[ -s "$out" ] || fail "no datagram at NOTIFY_SOCKET=$1"
	grep -qx "$DAEMON_PID READY=1" "$out" ||
		fail "NOTIFY_SOCKET=$1 got '$(cat "$out")', expected '$DAEMON_PID READY=1'"
	pctl list >/dev/null || fail "the daemon does not serve after READY=1"
	echo "ok: NOTIFY_SOCKET=$1: $(cat "$out") (pid $DAEMON_PID)"
	stop_daemon
	kill "$LISTENER" 2>/dev/null; wait "$LISTENER" 2>/dev/null
}

check_ready "$T/notify.sock"
check_ready "@pnd-notify-$$-$RANDOM"
echo "notify: ok"
