#!/usr/bin/env bash
# polynetd's metrics (docs/daemon.md, "Metrics"):
#  - --metrics 127.0.0.1:0 binds a port the kernel picks and names it in the
#    ready line (metrics_port=N): no port race between parallel tests;
#  - GET /metrics is the Prometheus text exposition 0.0.4 and passes a strict
#    reader (tests/integration/prom_check.py); polyctl stat --prometheus is
#    the same format through the control socket;
#  - values move: after jobs the model's jobs counter and its latency
#    histogram's count grew by the jobs run, and a tenant's submitted counter;
#  - other paths 404, other methods 405 (Allow: GET, HEAD), HEAD has no body;
#  - malformed HTTP from raw sockets (garbage, a header of 64 KiB, a request
#    cut off, more connections than the limit, held open) leaves the daemon
#    up and serving;
#  - a model name with a quote, a backslash and a newline is escaped;
#  - a non-admin's --prometheus shows its own tenant only, not root's private
#    model (root only: the second uid needs runuser); the HTTP listener, for
#    the admin's scraper, shows both;
#  - a bad --metrics is refused at start naming the option;
#  - every family is listed, with its type, in docs/daemon.md.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh
command -v curl >/dev/null || { echo "skip: no curl (scripts/setup.sh installs it)"; exit 77; }
CHECK="python3 tests/integration/prom_check.py"

# a bad address is refused at start, naming the option
"$POLYNETD" --socket "$T/bad.sock" --state "$STATE-bad" --metrics nonsense >/dev/null 2>"$T/bad.err" &&
	fail "polynetd started with --metrics nonsense"
grep -q -- "--metrics nonsense: expected ADDR:PORT" "$T/bad.err" || fail "bad --metrics: $(cat "$T/bad.err")"
echo "ok: $(tail -1 "$T/bad.err")"

"$DC" mkmodel fixture "$T/fx.pnb" || fail "mkmodel"
printf 'nop:we"ird\\name\n:9' >"$T/weird.kind"
"$DC" mkmodel "$(cat "$T/weird.kind")" "$T/weird.pnb" || fail "mkmodel weird"
chmod 755 "$T"; chmod 644 "$T"/*.pnb
start_daemon --workers 1 --metrics 127.0.0.1:0
PORT=$(sed -n 's/^ready .*metrics_port=\([0-9][0-9]*\).*/\1/p' "$T/daemon.out")
[ -n "$PORT" ] && [ "$PORT" -gt 0 ] || fail "no metrics_port= in the ready line: $(cat "$T/daemon.out")"
URL=http://127.0.0.1:$PORT/metrics
echo "ok: listening on port $PORT"

scrape() {	# scrape NAME: $T/NAME.txt and the samples in $T/NAME.json
	curl -sS -D "$T/$1.hdr" -o "$T/$1.txt" "$URL" || fail "curl $URL"
	grep -qi '^content-type: text/plain; version=0.0.4' "$T/$1.hdr" ||
		fail "content type: $(cat "$T/$1.hdr")"
	$CHECK "$T/$1.txt" --json "$T/$1.json" || fail "scrape $1 does not parse"
}
val() {	# val NAME SERIES: the sample's value (0 if absent)
	python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1])).get(sys.argv[2], 0)))' \
		"$T/$1.json" "$2"
}

pctl load "$T/fx.pnb" >/dev/null || fail "load fixture"
scrape before
for f in polynet_uptime_seconds polynet_sessions polynet_queued_jobs polynet_model_jobs_total \
	 polynet_model_latency_seconds polynet_model_batch_rows polynet_tenant_jobs_refused_total \
	 polynet_tenant_queued_jobs polynet_tenant_session_bytes polynet_shared_model_bytes; do
	grep -q "^# TYPE $f " "$T/before.txt" || fail "no family $f"
done
echo "ok: scrape parses ($(grep -vc '^#' "$T/before.txt") samples)"

"$DC" stress "$SOCK" fixture "$T/fx.pnb" 50 4 1 >/dev/null || fail "jobs through the daemon"
scrape after
JOBS='polynet_model_jobs_total{id="1",model="fixture"}'
LAT='polynet_model_latency_seconds_count{id="1",model="fixture"}'
ROWS='polynet_model_batch_rows_count{id="1",model="fixture"}'
SUB='polynet_tenant_jobs_submitted_total{tenant="uid:0",uid="0"}'
for s in "$JOBS" "$LAT" "$SUB"; do
	b=$(val before "$s"); a=$(val after "$s")
	[ $((a - b)) -ge 50 ] || fail "$s went from $b to $a after 50 jobs"
	echo "ok: $s $b -> $a"
done
[ "$(val after "$ROWS")" -ge 1 ] || fail "no executor call counted in $ROWS"

# the control socket's text: the same format, both orders of --socket
pctl stat --prometheus >"$T/cli.txt" || fail "polyctl stat --prometheus"
$CHECK "$T/cli.txt" --json "$T/cli.json" >/dev/null || fail "stat --prometheus does not parse"
[ "$(val cli "$JOBS")" -eq "$(val after "$JOBS")" ] || fail "stat --prometheus and /metrics differ on $JOBS"
"$POLYCTL" --socket "$SOCK" stat --prometheus | grep -q '^polynet_model_jobs_total{model="fixture"' ||
	fail "polyctl --socket S stat --prometheus"
echo "ok: polyctl stat --prometheus parses, agrees with /metrics"

# status codes
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "http://127.0.0.1:$PORT/")" = 404 ] || fail "/ is not 404"
[ "$(code "http://127.0.0.1:$PORT/metrics/x")" = 404 ] || fail "/metrics/x is not 404"
[ "$(code -X POST --data x "$URL")" = 405 ] || fail "POST is not 405"
curl -s -D - -o /dev/null -X DELETE "$URL" | grep -qi '^allow: GET, HEAD' || fail "405 without Allow"
[ "$(curl -s -I "$URL" | head -1 | tr -d '\r')" = "HTTP/1.1 200 OK" ] || fail "HEAD is not 200"
[ "$(curl -s --head "$URL" -o /dev/null -w '%{size_download}')" = 0 ] || fail "HEAD has a body"
echo "ok: 404 other paths, 405 other methods (Allow: GET, HEAD), HEAD 200"

# malformed HTTP from raw sockets: the daemon stays up and keeps serving
python3 - "$PORT" <<'PY' || fail "raw socket client"
import socket, sys, time
port = int(sys.argv[1])
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s
def send(data, read=True):
    s = conn()
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        if read:
            while s.recv(65536):
                pass
    except OSError:
        pass           # the server may close first: that is its right
    s.close()
send(b"\x00\xff\x13garbage\r\n\r\n")
send(b"GET\r\n\r\n")
send(b"GET /metrics HTTP/9.9\r\n\r\n")
send(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
send(b"GET /metrics HTTP/1.1\r\nContent-Length: -5\r\n\r\n")
send(b"GET /metr", read=False)                       # cut off, then closed
send(b"POST /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
# more connections than the limit (16), held open while one more asks
held = []
for _ in range(24):
    try:
        held.append(conn())
    except OSError:
        break
for s in held:
    s.close()
time.sleep(0.2)
print("raw: sent 7 malformed requests, held", len(held), "connections")
PY
kill -0 "$DAEMON_PID" 2>/dev/null || fail "polynetd died after malformed HTTP"
scrape again
[ "$(val again "$JOBS")" -ge "$(val after "$JOBS")" ] || fail "counter went back"
pctl list >/dev/null || fail "the control socket after malformed HTTP"
echo "ok: up and serving after malformed HTTP"

# label escaping: a model named we"ird\name<newline>
pctl load "$T/weird.pnb" >/dev/null || fail "load weird"
scrape weird
grep -qF 'model="we\"ird\\name\n"' "$T/weird.txt" || fail "weird name not escaped: $(grep -F ird "$T/weird.txt" | head -2)"
echo "ok: label values escaped"

# visibility: a non-admin sees its own tenant and the models it may see
if [ "$(id -u)" -eq 0 ]; then
	nctl load "$T/weird.pnb" >/dev/null 2>&1	# shared: one copy, two holders
	nctl stat --prometheus >"$T/nobody.txt" || fail "nobody's stat --prometheus"
	$CHECK "$T/nobody.txt" >/dev/null || fail "nobody's text does not parse"
	grep -q 'model="fixture"' "$T/nobody.txt" && fail "nobody sees root's private model"
	grep -q 'uid="0"' "$T/nobody.txt" && fail "nobody sees root's tenant row"
	grep -q 'uid="65534"' "$T/nobody.txt" || fail "nobody does not see its own row"
	grep -q '^polynet_model_holders' "$T/nobody.txt" && fail "nobody sees holder counts"
	scrape admin
	grep -q 'uid="65534"' "$T/admin.txt" && grep -q 'model="fixture"' "$T/admin.txt" ||
		fail "the scraper does not see every tenant and model"
	[ "$(sed -n 's/^polynet_shared_model_bytes //p' "$T/admin.txt")" -gt 0 ] ||
		fail "a model two tenants hold is not counted as shared"
	echo "ok: a non-admin sees its own; the scraper sees all"
else
	echo "note: not root, the non-admin visibility part needs runuser: skipped"
fi
# every family the scraper sees is documented, with its type
scrape docs
sed -n 's/^# TYPE \([^ ]*\) \(.*\)/\1 \2/p' "$T/docs.txt" | while read -r name type; do
	grep -q "^| \`$name\` | $type |" docs/daemon.md || fail "$name ($type) is not in docs/daemon.md's table"
done || exit 1
echo "ok: every family is in docs/daemon.md"
stop_daemon
echo "metrics: ok"
