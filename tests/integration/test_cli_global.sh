#!/usr/bin/env bash
# polyctl's global options (tools/polyctl/main.c): --socket PATH before the
# verb, as git and docker take theirs, or after it among the verb's own:
#  - list, stat, load, unload work in both orders and with --socket=PATH,
#    against a real polynetd on a private socket (no daemon at the default);
#  - an unknown global option, a --socket without PATH and a missing verb
#    exit 2 with one line naming what is wrong, and the usage;
#  - --socket before a verb that does not talk to polynetd is refused by name;
#  - polyctl --help documents --socket.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh
export POLYNET_SOCKET=$T/nobody-listens.sock	# so the verb must use the option to succeed

"$DC" mkmodel fixture "$T/fx.pnb" || fail "mkmodel"
start_daemon --workers 1
"$POLYCTL" list >/dev/null 2>&1 && fail "list reached a daemon without --socket"
"$POLYCTL" --socket "$SOCK" load "$T/fx.pnb" >/dev/null || fail "polyctl --socket S load"
"$POLYCTL" --socket "$SOCK" list | grep -q fixture || fail "polyctl --socket S list"
"$POLYCTL" list --socket "$SOCK" | grep -q fixture || fail "polyctl list --socket S"
"$POLYCTL" --socket="$SOCK" list --json | grep -q '"name":"fixture"' || fail "polyctl --socket=S list --json"
"$POLYCTL" --socket "$SOCK" stat --json | grep -q '"models"' || fail "polyctl --socket S stat --json"
"$POLYCTL" -s "$SOCK" stat >/dev/null || fail "polyctl -s S stat"
# both: the verb's own comes later and wins
"$POLYCTL" --socket "$T/nowhere" list --socket "$SOCK" >/dev/null || fail "the verb's --socket does not win"
"$POLYCTL" --socket "$SOCK" unload fixture >/dev/null || fail "polyctl --socket S unload"
"$POLYCTL" --socket "$SOCK" list | grep -q fixture && fail "unload through the global --socket did nothing"
echo "ok: --socket before and after the verb"

expect_usage() {	# expect_usage 'WHAT' ARGS...: exit 2, WHAT on stderr, the usage after it
	local what=$1; shift
	"$POLYCTL" "$@" >"$T/out" 2>"$T/err"; local rc=$?
	[ $rc -eq 2 ] || fail "polyctl $*: exit $rc, expected 2"
	grep -qF -- "$what" "$T/err" || fail "polyctl $*: '$(head -1 "$T/err")', expected '$what'"
	grep -q '^usage: polyctl \[--socket PATH\] VERB' "$T/err" || fail "polyctl $*: no usage"
	[ ! -s "$T/out" ] || fail "polyctl $*: wrote to stdout"
	echo "ok: polyctl $* -> $(head -1 "$T/err")"
}
expect_usage "unknown global option '--frobnicate'" --frobnicate list
expect_usage "unknown global option '--json'" --json list
expect_usage "no verb given after the global options" --socket "$SOCK"
expect_usage "--socket needs a PATH" --socket
"$POLYCTL" >/dev/null 2>"$T/err"; [ $? -eq 2 ] && grep -q "no verb given" "$T/err" || fail "polyctl alone"
"$POLYCTL" --socket "$SOCK" inspect "$T/fx.pnb" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "\-\-socket does not apply to 'inspect'" "$T/err" ||
	fail "--socket before inspect: exit $rc, $(cat "$T/err")"
echo "ok: $(cat "$T/err")"
"$POLYCTL" --help | grep -q -- '--socket PATH' || fail "--help does not document --socket"
"$POLYCTL" --help | grep -q 'stat \[--json | --prometheus\]' || fail "--help does not list stat --prometheus"
stop_daemon
echo "cli global options: ok"
