#!/usr/bin/env bash
# Malformed control messages (an empty datagram, one too big, one of too
# many fds too) and SQEs get errors (that connection or session only), no
# reply is dropped when a client does not read (issue 10, item 19), a
# scribbled ring breaks only its own session, and one tenant cannot unload
# another's model; the daemon keeps serving everyone throughout.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh

"$DC" mkmodel fixture "$T/fx.pnb" || fail "mkmodel fixture"
"$DC" mkmodel empty "$T/empty.pnb" || fail "mkmodel empty"
# the admin map names uid 65534 and gives it weight 2 and quotas
printf '# uid name weight max_inflight max_arena_mb\n65534 guest 2 64 16\n' >"$T/tenants"
start_daemon --rt-workers 1 --tenants "$T/tenants"	# realtime jobs of the api check: the rt worker
pctl load "$T/fx.pnb" >/dev/null || fail "load fixture"
# public: the other uid runs it (a private one it could not see: test_daemon_isolation)
pctl load "$T/empty.pnb" --public >/dev/null || fail "load empty"

# a well-behaved client runs throughout
"$DC" stress "$SOCK" fixture "$T/fx.pnb" 3000 4 11 >"$T/good.log" 2>&1 &
good=$!
CLIENT_PIDS=$good
"$DC" malformed "$SOCK" empty || fail "malformed messages"
# an empty datagram, one over PN_MSG_MAX, one of 20 fds: each answered, the connection kept
"$DC" badgrams "$SOCK" || fail "malformed datagrams"
"$DC" api "$SOCK" empty || fail "client API (io_uring wait, cancel)"
# timed waits on an idle session end on time (a negative poll timeout once slept forever)
timeout 60 "$DC" idlewait "$SOCK" empty 300 3 || fail "timed waits on an idle session"
if [ "$(id -u)" -eq 0 ]; then
	chmod 755 "$T"
	"$DC" tenant "$SOCK" empty 65534 >"$T/tenant.log" || fail "tenant isolation: $(cat "$T/tenant.log")"
	cat "$T/tenant.log"
	# a second uid pipelines 20,000 requests without reading: its outbox fills,
	# the daemon stops reading it, and once it reads every reply is there, in order
	as_nobody "$DC" pipeline "$SOCK" 20000 >"$T/pipe.log" 2>&1 ||
		fail "replies lost to a client that did not read: $(cat "$T/pipe.log")"
	cat "$T/pipe.log"
	grep -q "uid 65534 'guest'" "$T/tenant.log" || fail "the admin map's name was not used"
	pctl stat --json | /usr/bin/python3 -c '
import json, sys
t = {x["uid"]: x for x in json.load(sys.stdin)["tenants"]}
assert t[65534]["name"] == "guest" and t[65534]["weight"] == 2, t[65534]
assert t[65534]["completed"] >= 1, t[65534]' || fail "stat of the mapped tenant"
else
	echo "note: not root, the second-tenant check was not run"
fi
wait $good || fail "the well-behaved client: $(cat "$T/good.log")"
CLIENT_PIDS=
kill -0 "$DAEMON_PID" || fail "polynetd died"
stop_daemon
echo "malformed: ok"
