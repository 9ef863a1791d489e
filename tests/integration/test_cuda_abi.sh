#!/usr/bin/env bash
# daemon/cuda_api.h declares the Driver API without the toolkit; where the
# toolkit's cuda.h exists, its constants, struct layouts and every entry's
# prototype must be cuda.h's (tests/integration/cuda_abi_check.c). Skips (77)
# without a cuda.h.
set -u
cd "$(dirname "$0")/../.."
INC=${CUDA_HOME:-/usr/local/cuda}/include
[ -f "$INC/cuda.h" ] || { echo "skip: no cuda.h under $INC"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
CF="-std=c11 -Wall -Wextra -Werror -I. -Ilib"
cc $CF -o "$T/ours" tests/integration/cuda_abi_check.c || { echo "FAIL: ours does not build"; exit 1; }
cc $CF -DREAL -DPROTOS -I"$INC" -c -o "$T/protos.o" tests/integration/cuda_abi_check.c \
	2>"$T/real.err" || { echo "FAIL: a prototype differs from cuda.h's:"; head -20 "$T/real.err"; exit 1; }
cc $CF -DREAL -I"$INC" -o "$T/real" tests/integration/cuda_abi_check.c || { echo "FAIL: real"; exit 1; }
"$T/ours" >"$T/ours.txt"; "$T/real" >"$T/real.txt"
diff "$T/ours.txt" "$T/real.txt" >"$T/diff" || { echo "FAIL: cuda_api.h vs cuda.h:"; cat "$T/diff"; exit 1; }
echo "cuda_api.h agrees with $INC/cuda.h: $(wc -l <"$T/ours.txt") constants and offsets, $(grep -c '^	X(' daemon/cuda_entries.h) prototypes"
