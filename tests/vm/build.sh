#!/usr/bin/env bash
# Builds what the VM boots, under OUT (default build/vm):
#   OUT/kmod/driver/polynet.ko   the module, against KVER's headers
#   OUT/bin/*                    static test programs (no libc in the VM)
#   OUT/initramfs.cpio.gz        busybox + /init + module + programs
# Usage: tests/vm/build.sh [OUT] [KVER]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-build/vm}
KVER=${2:-$(bash tests/vm/kver.sh)}
KDIR=/lib/modules/$KVER/build
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# The module builds in a copy so the shared tree stays free of kbuild output.
rm -rf "$OUT/kmod"
mkdir -p "$OUT/kmod"
cp -r Kbuild driver uapi "$OUT/kmod/"
make -s -C "$KDIR" M="$OUT/kmod" modules 2>&1 | grep -v "Skipping BTF generation" || true
[ -f "$OUT/kmod/driver/polynet.ko" ] || { echo "build: polynet.ko not built" >&2; exit 1; }

# static test programs: the Makefile's vm-bins rules
make -s -j2 vm-bins VM_OUT="$OUT"

root=$OUT/root
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,t}
cp "$(command -v busybox)" "$root/bin/busybox"
file "$root/bin/busybox" 2>/dev/null | grep -q "static" || ldd "$root/bin/busybox" 2>&1 |
	grep -q "not a dynamic" || { echo "build: busybox is not static (busybox-static)" >&2; exit 1; }
cp tests/vm/init.sh "$root/init"
chmod 755 "$root/init"
cp "$OUT/kmod/driver/polynet.ko" "$root/polynet.ko"
cp "$OUT"/bin/* "$root/t/"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUT/initramfs.cpio.gz"
