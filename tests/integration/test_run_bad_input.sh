#!/usr/bin/env bash
# polyctl run on bad input: a clear error naming the file and line, a
# non-zero exit, the good lines still embedded, and never a crash (ASan).
set -u
B=${POLYNET_BUILD:-build}
[ -s "$B/use.pnb" ] || { echo "skip: $B/use.pnb not built (make model)"; exit 77; }
P=$B/asan/polyctl
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

printf 'good line one\n\nsecond good line\n\xff\xfe bad utf8\nlast\n' > "$tmp/mixed.txt"
"$P" run "$B/use.pnb" --text-file "$tmp/mixed.txt" --json > "$tmp/out" 2> "$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "mixed input: exit $rc, expected 1"
[ "$(wc -l < "$tmp/out")" -eq 5 ] || fail "mixed input: expected 5 JSON lines"
grep -q "mixed.txt:2: .*empty" "$tmp/err" || fail "empty line not named: $(cat "$tmp/err")"
grep -q "mixed.txt:4: .*UTF-8" "$tmp/err" || fail "invalid UTF-8 not named: $(cat "$tmp/err")"
[ "$(grep -c '"embedding"' "$tmp/out")" -eq 3 ] || fail "good lines lost"
grep -q "AddressSanitizer\|runtime error" "$tmp/err" && fail "sanitizer report"

"$P" run "$B/use.pnb" --text-file "$tmp/nonexistent" > /dev/null 2> "$tmp/err"
[ $? -eq 1 ] && grep -q nonexistent "$tmp/err" || fail "missing text file"

: > "$tmp/empty.txt"
"$P" run "$B/use.pnb" --text-file "$tmp/empty.txt" > /dev/null 2> "$tmp/err"
[ $? -eq 1 ] && grep -q "no lines" "$tmp/err" || fail "empty file"

head -c 5000 "$B/use.pnb" > "$tmp/trunc.pnb"
"$P" run "$tmp/trunc.pnb" --text-file "$tmp/mixed.txt" > /dev/null 2> "$tmp/err"
[ $? -eq 1 ] && grep -q "trunc.pnb" "$tmp/err" || fail "truncated model: $(cat "$tmp/err")"

"$P" run "$B/use.pnb" > /dev/null 2>&1
[ $? -eq 2 ] || fail "missing --text-file should be a usage error (2)"
grep -q "AddressSanitizer\|runtime error" "$tmp/err" && fail "sanitizer report"
echo "bad input handled"
