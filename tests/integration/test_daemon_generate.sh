#!/usr/bin/env bash
# Generation through polynetd (issue 15; docs/daemon.md "Generation"), with a
# real daemon and real client processes (test_daemon_generate_client.c):
#  - greedy through the daemon equals tests/data/llama/ref.json's "greedy" on
#    16 prompts at batch 1 (a token CQE per token, and per 4 tokens), and
#    polyctl generate --socket prints what the in-process one prints;
#  - 8 client processes decoding at once equal the reference too, and STAT
#    says the daemon batched them (decode steps, sessions per step); a
#    realtime job on another model (the fixture encoder) is served meanwhile;
#  - cancel between tokens ends a generation -ECANCELED with the tokens sent,
#    and a waiting one at once;
#  - every refusal (docs/daemon.md), a full CQ pausing a job without loss;
#  - a client killed (kill -9) mid-generation frees its cache slots: with
#    --gen-slots 2 held by it, a third generation waits, then takes a freed
#    slot and completes; STAT and the metrics say slots 0 used, 2 dropped.
# Timings are printed, never asserted (bench/gen_daemon_bench.sh measures).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh
needs_backend cpu	# the CUDA backend runs no decoder (PN_OP_GENERATE: -EOPNOTSUPP)

REF=tests/data/llama/ref.json
GC=$B/rel/tests/test_daemon_generate_client
# the client has no rule in the Makefile: its rules and flags, plus one for it
make -s --no-print-directory B="$B" -f Makefile -f - "$GC" <<'EOF' >/dev/null || fail "cannot build $GC"
$(B)/rel/tests/test_daemon_generate_client: $(B)/rel/tests/integration/test_daemon_generate_client.o $(REL_LIB)
	$(CC) $(REL_CFLAGS) -o $@ $^ $(LDLIBS)
EOF
"$POLYCTL" compile --from llama2c tests/data/llama/stories260k.bin -o "$T/llama.pnb" >/dev/null ||
	fail "compile stories260k"
"$DC" mkmodel fixture "$T/fx.pnb" || fail "mkmodel"
stat_gen() {	# stat_gen FIELD: the decoder's STAT "gen" field
	pctl stat --json | python3 -c "import json,sys
for m in json.load(sys.stdin)['models']:
    if m.get('decoder'): print(m['gen']['$1'])"
}

start_daemon --workers 1 --gen-slots 16
pctl load "$T/llama.pnb" >/dev/null || fail "load llama"
pctl load "$T/fx.pnb" >/dev/null || fail "load fixture"
pctl list --json | grep -q '"name":"llama".*"decoder":true' || fail "LIST: llama is no decoder"

# --- batch 1: the reference, a CQE per token and per 4 tokens ---
out=$("$GC" ref "$SOCK" llama "$REF" 0 16 1 spin 2>&1) || fail "batch 1: $out"
[ "$out" = "ok 16 1024" ] || fail "batch 1: $out"
out=$("$GC" ref "$SOCK" llama "$REF" 16 16 4 spin 2>&1) || fail "batch 1, every 4: $out"
[ "$out" = "ok 16 1024" ] || fail "batch 1, every 4: $out"
[ "$(stat_gen max_step_sessions)" = 1 ] || fail "one client at a time batched $(stat_gen max_step_sessions)"
echo "ok: 32 prompts at batch 1 equal ref.json's greedy (16 a CQE per token, 16 per 4)"

# --- polyctl generate: the daemon's output is the in-process one (timings aside) ---
head -16 tests/data/llama/prompts.txt >"$T/p16.txt"
"$POLYCTL" generate "$T/llama.pnb" --prompt-file "$T/p16.txt" --json >"$T/in.json" ||
	fail "in-process generate"
pctl generate llama --prompt-file "$T/p16.txt" --json >"$T/d.json" || fail "polyctl generate --socket"
"$POLYCTL" generate "$T/llama.pnb" --prompt-file "$T/p16.txt" >"$T/in.txt" 2>/dev/null
pctl generate "$T/llama.pnb" --prompt-file "$T/p16.txt" >"$T/d.txt" 2>/dev/null ||
	fail "polyctl generate --socket (text)"
cmp -s "$T/in.txt" "$T/d.txt" || fail "text output differs: $(diff "$T/in.txt" "$T/d.txt" | head -5)"
python3 - "$T/in.json" "$T/d.json" <<'EOF' || fail "polyctl generate --socket --json differs from in process"
import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:])
assert len(a) == len(b) == 17, (len(a), len(b))
for x, y in zip(a[:-1], b[:-1]):
    for k in ("line", "prompt", "prompt_ids", "ids", "text", "stop"):
        assert x[k] == y[k], (x["line"], k, x[k], y[k])
    assert len(x["token_us"]) == len(y["token_us"]), x["line"]
assert a[-1]["summary"]["tokens"] == b[-1]["summary"]["tokens"]
EOF
echo "ok: polyctl generate --socket prints the in-process ids, text and stops (text and --json)"

# --- 8 clients at once, a realtime job on the fixture meanwhile ---
steps0=$(stat_gen steps); seqs0=$(stat_gen step_sessions)
pids=
for i in 0 1 2 3 4 5 6 7; do
	"$GC" ref "$SOCK" llama "$REF" $((i * 6)) 16 1 sleep "$T/go" >"$T/c$i.out" 2>&1 &
	pids="$pids $!"
done
CLIENT_PIDS=$pids
for _ in $(seq 200); do
	[ "$(cat "$T"/c*.out 2>/dev/null | grep -c '^ready')" = 8 ] && break
	sleep 0.05
done
touch "$T/go"
"$DC" rtlat "$SOCK" fixture 1 2000 >"$T/rt.out" 2>&1 || fail "realtime job meanwhile: $(cat "$T/rt.out")"
for p in $pids; do wait "$p" || fail "a client of 8: $(cat "$T"/c*.out | grep -v '^ready\|^ok' | head -3)"; done
CLIENT_PIDS=
for i in 0 1 2 3 4 5 6 7; do
	grep -q '^ok 16 1024$' "$T/c$i.out" || fail "client $i: $(cat "$T/c$i.out")"
done
steps=$(( $(stat_gen steps) - steps0 )); seqs=$(( $(stat_gen step_sessions) - seqs0 ))
maxs=$(stat_gen max_step_sessions)
read -r rp50 rp99 rp999 rn rref <"$T/rt.out"
echo "ok: 8 clients x 16 prompts equal the reference: $steps decode steps for $seqs session-steps" \
     "($(python3 -c "print(round($seqs / max($steps, 1), 2))") sessions per step, at most $maxs)"
echo "    realtime fixture jobs meanwhile: $rn served (p50 $rp50 us, p99 $rp99 us, p99.9 $rp999 us), $rref refused"
[ "$maxs" -ge 2 ] || fail "8 clients at once, but no decode step ran more than $maxs session"
[ "$((seqs * 10))" -gt "$((steps * 15))" ] || fail "8 clients at once: $seqs session-steps in $steps steps"
[ "$rn" -gt 0 ] || fail "no realtime job served while 8 generations ran"

# --- cancel ---
out=$("$GC" cancel "$SOCK" llama 5 2>&1) || fail "cancel: $out"
echo "ok: cancel after 5 tokens: $out"
out=$("$GC" cancel "$SOCK" llama 0 2>&1) || fail "cancel at once: $out"
echo "ok: cancel at once: $out"
[ "$(stat_gen cancelled)" = 2 ] || fail "STAT gen.cancelled $(stat_gen cancelled), expected 2"

# --- refusals, and a full CQ ---
stalls0=$(stat_gen stalls)
"$GC" errors "$SOCK" llama fixture >"$T/err.out" 2>&1 || fail "errors: $(cat "$T/err.out")"
sed 's/^/    /' "$T/err.out"
[ "$(grep -c ' ok$' "$T/err.out")" = 10 ] || fail "errors: $(cat "$T/err.out")"
[ "$(stat_gen stalls)" -gt "$stalls0" ] || fail "a full CQ, and STAT gen.stalls did not move"
echo "ok: every refusal, and a full CQ paused a job without loss ($(($(stat_gen stalls) - stalls0)) stalls)"
stop_daemon

# --- a client killed mid-generation frees its slots ---
start_daemon --workers 1 --gen-slots 2
grep -q 'models=2' "$T/daemon.out" || fail "the models were not reattached: $(cat "$T/daemon.out")"
"$GC" hold "$SOCK" llama 2 >"$T/hold.out" 2>&1 &
hold=$!
CLIENT_PIDS=$hold
for _ in $(seq 200); do grep -q '^holding 2' "$T/hold.out" && break; sleep 0.05; done
grep -q '^holding 2' "$T/hold.out" || fail "hold: $(cat "$T/hold.out")"
[ "$(stat_gen slots_used)" = 2 ] || fail "2 generations held, STAT slots_used $(stat_gen slots_used)"
out=$("$GC" cancel "$SOCK" llama 0 2>&1) || fail "cancel while waiting for a slot: $out"
echo "ok: every slot held by one client; a waiting generation cancelled at once: $out"
"$GC" ref "$SOCK" llama "$REF" 40 1 1 sleep >"$T/third.out" 2>&1 &
third=$!
CLIENT_PIDS="$hold $third"
for _ in $(seq 200); do [ "$(stat_gen waiting)" = 1 ] && break; sleep 0.05; done
[ "$(stat_gen waiting)" = 1 ] || fail "a third generation does not wait for a slot"
kill -9 "$hold"
wait "$hold" 2>/dev/null
wait "$third" || fail "the third generation: $(cat "$T/third.out")"
CLIENT_PIDS=
grep -q '^ok 1 64$' "$T/third.out" || fail "the third generation: $(cat "$T/third.out")"
for _ in $(seq 100); do [ "$(stat_gen slots_used)" = 0 ] && break; sleep 0.05; done
used=$(stat_gen slots_used); dropped=$(stat_gen dropped); jobs=$(stat_gen jobs)
[ "$used" = 0 ] && [ "$dropped" = 2 ] && [ "$jobs" = 3 ] ||
	fail "after kill -9: STAT slots_used $used dropped $dropped jobs $jobs, expected 0 2 3"
pctl stat --prometheus >"$T/prom.txt" || fail "stat --prometheus"
python3 tests/integration/prom_check.py "$T/prom.txt" >/dev/null || fail "metrics: prom_check"
grep -q '^polynet_gen_ended_total{model="llama",id="[0-9]*",why="dropped"} 2$' "$T/prom.txt" ||
	fail "metrics: $(grep polynet_gen_ended "$T/prom.txt")"
grep -q '^polynet_gen_slots_used{model="llama",id="[0-9]*"} 0$' "$T/prom.txt" ||
	fail "metrics: $(grep polynet_gen_slots_used "$T/prom.txt")"
echo "ok: kill -9 mid-generation freed both slots, the waiting one took one and matched ref.json" \
     "(STAT: slots_used 0, dropped 2, jobs 3; metrics agree)"
stop_daemon
echo "generate: ok"
