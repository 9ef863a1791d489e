#!/usr/bin/env bash
# Boots Debian's kernel in qemu with polynet.ko and runs the driver suite.
#   tests/vm/run.sh            the tests: PASS only when the serial log has
#                              the suite's PASS line and no BUG/WARNING/Oops/
#                              KASAN/Call Trace (qemu's exit code says nothing)
#   tests/vm/run.sh bench ARGS the region benchmark (bench/region_bench.sh)
# Exit 0 pass, 1 fail, 77 when qemu or a kernel with headers is missing.
# Env: POLYNET_VM_BUILD (default build/vm), POLYNET_VM_MEM (1G; bench 3G),
#      POLYNET_VM_TIMEOUT (seconds, default 300).
set -u
cd "$(dirname "$0")/../.."
mode=${1:-test}
shift || true
OUT=${POLYNET_VM_BUILD:-build/vm}
t0=$(date +%s.%N)

command -v qemu-system-x86_64 >/dev/null ||
	{ echo "vm: qemu-system-x86_64 missing (scripts/setup_vm.sh installs it)"; exit 77; }
command -v busybox >/dev/null ||
	{ echo "vm: busybox missing (busybox-static)"; exit 77; }
KVER=$(bash tests/vm/kver.sh) ||
	{ echo "vm: no /boot/vmlinuz-VER with /lib/modules/VER/build (linux-image/headers-amd64)"; exit 77; }
KERNEL=/boot/vmlinuz-$KVER
[ -r "$KERNEL" ] || { echo "vm: $KERNEL not readable"; exit 77; }

bash tests/vm/build.sh "$OUT" "$KVER" || { echo "vm: build failed"; exit 1; }
t_build=$(date +%s.%N)

# KVM only where the CPU says it has it: elsewhere /dev/kvm may exist and hang.
accel=tcg
if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then accel=kvm; fi
mem=${POLYNET_VM_MEM:-1G}
append="console=ttyS0 panic=-1 pn_mode=$mode"
if [ "$mode" = bench ]; then
	mem=${POLYNET_VM_MEM:-3G}
	append="$append pn_bench_args=$(IFS=,; echo "$*")"
fi
LOG=$OUT/serial-$mode.log
rm -f "$LOG"
timeout "${POLYNET_VM_TIMEOUT:-300}" qemu-system-x86_64 -accel "$accel" -cpu max -smp 2 \
	-m "$mem" -nographic -monitor none -serial "file:$LOG" -no-reboot \
	-kernel "$KERNEL" -initrd "$OUT/initramfs.cpio.gz" -append "$append" >/dev/null 2>&1
qrc=$?
t_end=$(date +%s.%N)
times=$(awk -v a="$t0" -v b="$t_build" -v c="$t_end" \
	'BEGIN { printf "build %.1fs, boot+tests %.1fs, total %.1fs", b - a, c - b, c - a }')

grep -E '^(vmtest:|    \||bench:|POLYNET-)' "$LOG" 2>/dev/null
bad=$(grep -nE 'BUG|WARNING|Oops|KASAN|Call Trace' "$LOG" 2>/dev/null | head -20)
[ "$qrc" -eq 124 ] && echo "vm: qemu timed out"
if [ "$mode" = bench ]; then
	ok=$(grep -c 'POLYNET-VM-BENCH: DONE' "$LOG" 2>/dev/null)
else
	ok=$(grep -c 'POLYNET-VM-SUITE: PASS' "$LOG" 2>/dev/null)
fi
if [ "${ok:-0}" -ge 1 ] && [ -z "$bad" ]; then
	echo "vm: PASS ($accel, kernel $KVER; $times)"
	exit 0
fi
[ -n "$bad" ] && { echo "vm: kernel complained:"; echo "$bad"; }
echo "vm: last lines of $LOG:"
tail -n 30 "$LOG" 2>/dev/null
echo "vm: FAIL ($accel, kernel $KVER; $times)"
exit 1
