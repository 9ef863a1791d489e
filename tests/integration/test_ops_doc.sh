#!/usr/bin/env bash
# docs/ops_table.md is what `polyctl inspect --ops` prints from the op table
# (lib/ops/): a descriptor changed without the doc (or the doc by hand) fails
# here. Regenerate: build/rel/polyctl inspect --ops > docs/ops_table.md
set -u
B=${POLYNET_BUILD:-build}
POLYCTL=$B/rel/polyctl
[ -x "$POLYCTL" ] || { echo "skip: $POLYCTL not built"; exit 77; }
out=$(mktemp); trap 'rm -f "$out"' EXIT
"$POLYCTL" inspect --ops >"$out" || { echo "FAIL: polyctl inspect --ops exited $?"; exit 1; }
# every op the reader accepts has a row
for op in embed layernorm rmsnorm linear act add ffn attention pool_mean pool_cls l2norm softmax \
	  poly_ffn vq cqa macro; do
	grep -q "^| [0-9]* | \`$op\` |" "$out" || { echo "FAIL: no row for op $op"; exit 1; }
done
if ! diff -u docs/ops_table.md "$out"; then
	echo "FAIL: docs/ops_table.md differs from polyctl inspect --ops (regenerate it)"
	exit 1
fi
# every GPU kernel an op names is an .entry of kernels/ptx/ (the last column)
entries=$(cat kernels/ptx/*.ptx 2>/dev/null |
	  sed -n 's/^[[:space:]]*\.visible[[:space:]]*\.entry[[:space:]]*\([A-Za-z_0-9]\{1,\}\).*/\1/p')
named=$(grep '^| [0-9]' "$out" | awk -F'|' '{ print $(NF - 1) }' | grep -o '`[A-Za-z_0-9]*`' | tr -d '`' | sort -u)
for k in $named; do
	echo "$entries" | grep -qx "$k" || { echo "FAIL: an op names GPU kernel $k, not an entry of kernels/ptx/"; exit 1; }
done
echo "docs/ops_table.md matches the op table ($(grep -c '^| [0-9]' "$out") ops, $(echo "$named" | grep -c .) GPU kernels named, each in kernels/ptx/)"
