#!/usr/bin/env bash
# The region benchmark (issue 3), host and VM, in one run:
#   host: memfd backend (no driver can load here), HOST_MIB (1024) MiB, 16 processes
#   VM:   driver and memfd backends under qemu, VM_MIB (default 1024) MiB, 16 processes
# The VM runs under TCG (no KVM on these hosts): its absolute numbers are an
# emulator's; compare driver and memfd inside it, and each against anonymous
# memory measured in the same run.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
mkdir -p "$B/bench"
make -s B="$B" "$B/rel/bench/region_bench" || exit 1

echo "== host: $(uname -r), $(nproc) cpus"
"$B/rel/bench/region_bench" --backend memfd --size "${HOST_MIB:-1024}" --procs 16 --iters 1000 || exit 1

echo "== VM (qemu, 3G, 2 vcpus)"
POLYNET_VM_BUILD=$B/vm POLYNET_VM_TIMEOUT=${VM_TIMEOUT:-580} bash tests/vm/run.sh bench \
	--backend driver+memfd --size "${VM_MIB:-1024}" --procs 16 --iters 200
