#!/usr/bin/env bash
# Every kernels/ptx/*.ptx assembles with ptxas for sm_80 and sm_90 with no
# spill and within its stated register budget, and docs/ptx_resources.md is
# the table kernels/ptx/check_ptxas.sh prints now (a kernel changed without
# regenerating the doc fails here). Regenerate:
#   kernels/ptx/check_ptxas.sh > docs/ptx_resources.md
set -u
cd "$(dirname "$0")/../.." || exit 1
out=$(mktemp); trap 'rm -f "$out"' EXIT
bash kernels/ptx/check_ptxas.sh >"$out"
rc=$?
case $rc in
0) ;;
77) echo "skip: no ptxas on PATH or at /usr/local/cuda/bin/ptxas"; exit 77 ;;
*) echo "FAIL: check_ptxas.sh exited $rc (a spill, a kernel over budget, no budget or a ptxas error: above)"; exit 1 ;;
esac
# The check's verdict must also be in the table: a row not "ok" is a failure
# even if the script's exit status were lost.
if grep -q '^| .* | \(SPILL\|OVER BUDGET\|NO BUDGET\) |$' "$out"; then
	grep '^| .* | \(SPILL\|OVER BUDGET\|NO BUDGET\) |$' "$out"
	echo "FAIL: kernels over budget or spilling"
	exit 1
fi
if ! diff -u docs/ptx_resources.md "$out"; then
	echo "FAIL: docs/ptx_resources.md differs from kernels/ptx/check_ptxas.sh (regenerate it)"
	exit 1
fi
echo "docs/ptx_resources.md matches ptxas ($(grep -c '^| [a-z_0-9]*\.ptx' "$out") kernel x arch rows, all within budget)"
