#!/usr/bin/env bash
# Isolation between tenants, with a second uid (nobody) as the attacker:
#  - MODEL_INFO, jobs by id, LIST and STAT: root's private model, loaded from
#    a 0600 file, is invisible to another uid (no fd, no job, no row);
#  - names are per tenant: a squatter's "use-lite" loaded first never
#    answers root's "use-lite";
#  - public models: an admin's --public model is seen and run by everyone
#    and unloaded by no one else; a non-admin cannot load one;
#  - the same bytes loaded by two tenants share one copy, each sees it.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh
[ "$(id -u)" -eq 0 ] || { echo "skip: not root, the second uid needs runuser"; exit 77; }
USE=${POLYNET_USE_PNB:-$B/use.pnb}
[ -f "$USE" ] || { echo "skip: $USE not built (make model)"; exit 77; }
chmod 755 "$T"

"$DC" mkmodel nop:use-lite:8 "$T/squat.pnb" || fail "mkmodel squat"
"$DC" mkmodel nop:secret:12 "$T/secret.pnb" || fail "mkmodel secret"
"$DC" mkmodel nop:pub:10 "$T/pub.pnb" || fail "mkmodel pub"
chmod 644 "$T/squat.pnb" "$T/pub.pnb"
chmod 600 "$T/secret.pnb"
as_nobody cat "$T/secret.pnb" >/dev/null 2>&1 && fail "nobody can read the 0600 file"
start_daemon --workers 1

# 1. a private model is invisible to another uid
sid=$(pctl load "$T/secret.pnb" --json | sed 's/.*"id":\([0-9]*\).*/\1/')
[ -n "$sid" ] || fail "load secret"
for ref in "$sid" secret; do
	out=$(as_nobody "$DC" info "$SOCK" "$ref")
	case "$out" in "err 2 "*) ;; *) fail "MODEL_INFO $ref as nobody: '$out', expected ENOENT";; esac
done
echo "ok: MODEL_INFO of root's private model as nobody: $out"
r=$(as_nobody "$DC" jobid "$SOCK" "$sid")
[ "$r" = "-2" ] || fail "a job naming root's model $sid as nobody: $r, expected -2 (ENOENT)"
r=$("$DC" jobid "$SOCK" "$sid")
[ "$r" = "0" ] || fail "root's own job on model $sid: $r"
echo "ok: a job by id on root's model: nobody -ENOENT, root 0"
nctl list --json | grep -q secret && fail "nobody's LIST shows root's model"
nctl stat --json >"$T/nstat.json" || fail "stat as nobody"
grep -q '"secret"' "$T/nstat.json" && fail "nobody's STAT shows root's model"
grep -q '"uid":0[,}]' "$T/nstat.json" && fail "nobody's STAT shows root's tenant row"
pctl list --json | grep -q secret || fail "root's LIST lost its model"
echo "ok: LIST and STAT as nobody show neither root's model nor its counters"

# 2. names are per tenant: the squatter's model never answers root's name
qid=$(nctl load "$T/squat.pnb" --json | sed 's/.*"id":\([0-9]*\).*/\1/')
[ -n "$qid" ] || fail "nobody's load of its use-lite"
rid=$(pctl load "$USE" --json | sed 's/.*"id":\([0-9]*\).*/\1/')
[ -n "$rid" ] && [ "$rid" != "$qid" ] || fail "root's load of use-lite: id '$rid'"
out=$("$DC" info "$SOCK" use-lite)
[ "$out" = "ok $rid use-lite" ] || fail "root's use-lite resolves to '$out', expected id $rid"
out=$(as_nobody "$DC" info "$SOCK" use-lite)
[ "$out" = "ok $qid use-lite" ] || fail "nobody's use-lite resolves to '$out', expected id $qid"
head -5 tests/data/sentences.txt >"$T/five.txt"
pctl run use-lite --text-file "$T/five.txt" --json >"$T/remote.jsonl" || fail "root's run use-lite"
"$POLYCTL" run "$USE" --text-file "$T/five.txt" --json >"$T/local.jsonl" || fail "run in process"
same_embeddings "$T/remote.jsonl" "$T/local.jsonl" || fail "root's use-lite through the daemon differs from the real model"
echo "ok: a squatted name: root's use-lite is id $rid (real embeddings), nobody's is id $qid"
nctl load "$T/squat.pnb" >/dev/null || fail "loading the same bytes twice as nobody"
"$DC" mkmodel nop:use-lite:9 "$T/squat2.pnb" && chmod 644 "$T/squat2.pnb"
nctl load "$T/squat2.pnb" 2>"$T/dupname.err" && fail "nobody loaded a second use-lite"
grep -q "already holds another model of that name" "$T/dupname.err" ||
	fail "second name: $(cat "$T/dupname.err")"
echo "ok: one name per tenant: $(cat "$T/dupname.err")"

# 3. the same bytes, two tenants: one copy, both see it, each unloads its own hold
nctl load "$T/pub.pnb" >/dev/null || fail "nobody's load of pub.pnb"
out=$(pctl load "$T/pub.pnb" --json) || fail "root's load of the same bytes"
echo "$out" | grep -q '"shared":true' || fail "the same bytes were not shared: $out"
nctl unload pub >/dev/null || fail "nobody's unload of its hold"
"$DC" info "$SOCK" pub | grep -q '^ok ' || fail "root lost pub when nobody dropped its hold"
pctl unload pub >/dev/null || fail "root's unload of pub"
echo "ok: the same bytes are one model with two holders"

# 4. public models
nctl load "$T/pub.pnb" --public 2>"$T/pubperm.err" && fail "nobody loaded a public model"
grep -q "admin" "$T/pubperm.err" || fail "public refusal: $(cat "$T/pubperm.err")"
pid=$(pctl load "$T/pub.pnb" --public --json | sed 's/.*"id":\([0-9]*\).*/\1/')
[ -n "$pid" ] || fail "root's public load"
out=$(as_nobody "$DC" info "$SOCK" pub)
[ "$out" = "ok $pid pub" ] || fail "nobody does not see the public model: $out"
r=$(as_nobody "$DC" jobid "$SOCK" "$pid")
[ "$r" = "0" ] || fail "nobody's job on the public model: $r"
nctl unload pub 2>/dev/null && fail "nobody unloaded root's public model"
nctl list --json | grep -q '"pub"' || fail "nobody's LIST lacks the public model"
echo "ok: a public model is seen and run by nobody, not unloaded by it"

# 5. persisted: after a restart the visibility is the same
stop_daemon
start_daemon --workers 1
out=$(as_nobody "$DC" info "$SOCK" "$sid")
case "$out" in "err 2 "*) ;; *) fail "after a restart nobody sees root's model: $out";; esac
out=$(as_nobody "$DC" info "$SOCK" pub)
[ "$out" = "ok $pid pub" ] || fail "after a restart the public flag is lost: $out"
out=$("$DC" info "$SOCK" use-lite)
[ "$out" = "ok $rid use-lite" ] || fail "after a restart root's use-lite is '$out'"
stop_daemon
echo "isolation: ok"
