#!/usr/bin/env bash
# Line-oriented inputs are read in bounded memory and every line is accounted
# for (issue 10, items 14 and 15):
#  - polyctl run: a 3 MiB line in the middle is reported by number and
#    skipped, the lines before and after it are embedded, the exit is 1;
#  - --text-file /dev/zero under a 1 GiB address-space limit ends with an
#    error (no newline in 64 MiB), not an OOM or a hang;
#  - polyctl eval: a set with an overlong line is refused naming the line.
set -u
cd "$(dirname "$0")/../.."
B=${POLYNET_BUILD:-build}
POLYCTL=$B/rel/polyctl
USE=${POLYNET_USE_PNB:-$B/use.pnb}
[ -x "$POLYCTL" ] && [ -f "$USE" ] || { echo "skip: make build model first"; exit 77; }
T=$(mktemp -d /tmp/pn-lines.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

{ echo "the first line"; echo "the second line"; head -c $((3 << 20)) /dev/zero | tr '\0' x; echo
  echo "after the long one"; echo "the last line"; } >"$T/mix.txt"
"$POLYCTL" run "$USE" --text-file "$T/mix.txt" --json >"$T/out.jsonl" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] || fail "exit $rc with a skipped line, expected 1"
[ "$(wc -l <"$T/out.jsonl")" -eq 5 ] || fail "$(wc -l <"$T/out.jsonl") output lines for 5 input lines"
[ "$(grep -c '"embedding"' "$T/out.jsonl")" -eq 4 ] || fail "the 4 normal lines were not all embedded"
sed -n 3p "$T/out.jsonl" | grep -q '^{"line":3,"error":"line longer than 1048576 bytes' ||
	fail "line 3 is not reported in place: $(sed -n 3p "$T/out.jsonl" | cut -c1-80)"
grep -q "mix.txt:3: line longer than 1048576 bytes, skipped" "$T/err" || fail "stderr: $(cat "$T/err")"
printf 'after the long one\nthe last line\n' >"$T/tail.txt"
"$POLYCTL" run "$USE" --text-file "$T/tail.txt" --json >"$T/tail.jsonl" || fail "run tail"
sed -n 4,5p "$T/out.jsonl" | cmp -s - "$T/tail.jsonl" || fail "the lines after the long one differ"
echo "ok: a 3 MiB line is line 3's error, the 4 others are embedded, exit 1"

( ulimit -v $((1 << 20)); exec timeout 120 "$POLYCTL" run "$USE" --text-file /dev/zero ) \
	>/dev/null 2>"$T/zero.err"; rc=$?
[ $rc -eq 1 ] || fail "--text-file /dev/zero under 1 GiB: exit $rc ($(tail -1 "$T/zero.err"))"
grep -q "/dev/zero:1: no newline in 67108864 bytes" "$T/zero.err" || fail "/dev/zero: $(cat "$T/zero.err")"
echo "ok: /dev/zero: $(tail -1 "$T/zero.err")"

{ echo "good sentence"; head -c $((2 << 20)) /dev/zero | tr '\0' y; echo; } >"$T/set.txt"
"$POLYCTL" compile --from pnb "$USE" --calib "$T/set.txt" -o "$T/x.pnb" >/dev/null 2>"$T/set.err" &&
	fail "a calibration set with a 2 MiB line was accepted"
grep -q "set.txt:2: line longer than 1048576 bytes" "$T/set.err" || fail "set: $(tail -2 "$T/set.err")"
echo "ok: a text set names its overlong line: $(grep -o 'set.txt:2:.*' "$T/set.err" | head -1)"
echo "cli lines: ok"
