#!/usr/bin/env bash
# polynet.ko builds with W=1 and sparse (C=1) without a single warning, and
# passes the kernel's checkpatch.pl when the headers package ships it.
# Exit 0 pass, 1 fail, 77 skip (no kernel headers or no sparse).
set -u
cd "$(dirname "$0")/../.."
KVER=$(bash tests/vm/kver.sh) ||
	{ echo "skip: no kernel headers (scripts/setup_vm.sh installs linux-headers-amd64)"; exit 77; }
command -v sparse >/dev/null || { echo "skip: sparse missing (scripts/setup_vm.sh)"; exit 77; }
KDIR=/lib/modules/$KVER/build

# build in a copy: kbuild writes next to the sources, the tree is shared
out=${POLYNET_BUILD:-build}/driver-style
rm -rf "$out"
mkdir -p "$out"
cp -r Kbuild driver uapi "$out/"
out=$(cd "$out" && pwd)
log=$(make -C "$KDIR" M="$out" W=1 C=1 modules 2>&1)
rc=$?
echo "$log" | grep -v "Skipping BTF generation"
if [ $rc -ne 0 ]; then
	echo "FAIL: module build (W=1 C=1) exited $rc"
	exit 1
fi
warnings=$(echo "$log" | grep -E "warning:|error:|: note:")
if [ -n "$warnings" ]; then
	echo "FAIL: W=1/sparse reported:"
	echo "$warnings"
	exit 1
fi
echo "ok: W=1 C=1 build of polynet.ko is warning-free (kernel $KVER)"

cp=""
for c in "$KDIR/scripts/checkpatch.pl" /usr/src/linux-headers-"${KVER%-*}"-common/scripts/checkpatch.pl; do
	[ -f "$c" ] && { cp=$c; break; }
done
if [ -z "$cp" ]; then
	echo "note: checkpatch.pl is not in Debian's headers package: that check is skipped"
	exit 0
fi
# --no-tree: no kernel tree here; the spelling list may be missing, tolerated
if ! perl "$cp" --no-tree --terse --show-types --max-line-length=100 --ignore SPDX_LICENSE_TAG \
	-f driver/*.c driver/*.h uapi/polynet.h; then
	echo "FAIL: checkpatch.pl"
	exit 1
fi
echo "ok: checkpatch.pl clean"
