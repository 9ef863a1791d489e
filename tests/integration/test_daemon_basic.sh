#!/usr/bin/env bash
# polynetd as a user meets it: ready line, load (shared by content hash),
# list/stat (table and JSON), run through the daemon byte-identical to the
# in-process run, unload, SIGTERM stops it cleanly.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh

"$DC" mkmodel fixture "$T/fx.pnb" || fail "mkmodel"
start_daemon --workers 1
grep -q "^ready socket=$SOCK pid=$DAEMON_PID" "$T/daemon.out" || fail "ready line: $(cat "$T/daemon.out")"

pctl load "$T/fx.pnb" | grep -q '^fixture id [0-9]' || fail "load does not print name and id"
cp "$T/fx.pnb" "$T/fx-copy.pnb"
pctl load "$T/fx-copy.pnb" --json >"$T/load2.json" || fail "second load"
/usr/bin/python3 - "$T/load2.json" <<'PY' || fail "second load of the same content not shared"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["shared"] is True and d["name"] == "fixture", d
PY
pctl list >/dev/null || fail "list"
pctl list --json >"$T/list.json" || fail "list --json"
pctl stat >/dev/null || fail "stat"
pctl stat --json >"$T/stat.json" || fail "stat --json"
/usr/bin/python3 - "$T/list.json" "$T/stat.json" <<'PY' || fail "list/stat JSON"
import json, sys
l = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2]))
assert len(l["models"]) == 1 and l["models"][0]["name"] == "fixture", l
assert l["models"][0]["persistent"] is True
for k in ("pid", "workers", "sessions", "queued", "running"):
    assert k in s["daemon"], k
m = s["models"][0]
for k in ("jobs", "errors", "p50_us", "p99_us", "p999_us"):
    assert k in m, k
assert any(t["uid"] == 0 and t["loads"] == 2 for t in s["tenants"]), s["tenants"]
PY

# a few checked jobs so stat has latencies
"$DC" stress "$SOCK" fixture "$T/fx.pnb" 200 4 3 || fail "jobs through the daemon"
pctl stat --json | /usr/bin/python3 -c '
import json, sys
m = json.load(sys.stdin)["models"][0]
assert m["jobs"] >= 200 and m["p50_us"] > 0 and m["p999_us"] >= m["p50_us"], m' \
	|| fail "stat after jobs"

# polyctl run through the daemon == in process, byte for byte (real model)
USE=$B/use.pnb
if [ -f "$USE" ]; then
	pctl load "$USE" >/dev/null || fail "load $USE"
	pctl run use-lite --text-file tests/data/sentences.txt --json >"$T/remote.jsonl" \
		|| fail "run through the daemon"
	"$POLYCTL" run "$USE" --text-file tests/data/sentences.txt --json >"$T/local.jsonl" \
		|| fail "run in process"
	same_embeddings "$T/remote.jsonl" "$T/local.jsonl" || fail "daemon output differs from in-process"
	echo "run through polynetd: $(wc -l <"$T/remote.jsonl") lines identical to in-process"
	pctl unload use-lite >/dev/null || fail "unload use-lite"
else
	echo "note: $USE missing, the real-model comparison was not run"
fi

pctl unload fixture >/dev/null || fail "unload"
pctl unload fixture 2>"$T/unload.err" && fail "unloading twice succeeded"
grep -q "not loaded" "$T/unload.err" || fail "unload of a missing model: $(cat "$T/unload.err")"
[ -z "$(ls /dev/shm/polynet."$STATE".m* 2>/dev/null)" ] || fail "unload left the region"
stop_daemon
grep -q "stopped" "$T/daemon.err" || fail "no clean stop"
echo "basic: ok"
