#!/bin/busybox sh
# /init of the test VM: mounts, loads polynet.ko, runs every test program
# (exit 0 pass, 1 fail, 77 skip), prints one closing PASS/FAIL line and
# powers off. pn_mode=bench on the kernel command line runs the benchmark.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/shm
mount -t tmpfs shm /dev/shm
mount -t tmpfs tmp /tmp
chmod 1777 /dev/shm /tmp
echo "vmtest: kernel $(uname -r), $(nproc) cpus, $(awk '/MemTotal/ {print $2}' /proc/meminfo) kB"

pass=0 fail=0 skip=0 failed=""
run() {	# name, command...
	name=$1; shift
	t0=$(date +%s)
	timeout 120 "$@" >/tmp/out 2>&1
	rc=$?
	sed 's/^/    | /' /tmp/out
	case $rc in
	0) pass=$((pass + 1)); echo "vmtest: PASS $name ($(( $(date +%s) - t0 ))s)" ;;
	77) skip=$((skip + 1)); echo "vmtest: SKIP $name: $(tail -n 1 /tmp/out)" ;;
	*) fail=$((fail + 1)); failed="$failed $name"; echo "vmtest: FAIL $name rc=$rc" ;;
	esac
}
finish() {
	sync
	poweroff -f
	sleep 5
}

if ! insmod /polynet.ko; then
	echo "POLYNET-VM-SUITE: FAIL (insmod)"
	finish
fi

if [ "${pn_mode:-test}" = bench ]; then
	/t/region_bench $(echo "${pn_bench_args:-}" | tr , ' ') && echo "POLYNET-VM-BENCH: DONE"
	finish
fi

for t in version share_fork share_name readonly seal refcount persistent perm badargs stress \
	 unload uring_wake; do
	run "vm_$t" /t/vm_$t
done
export POLYNET_REGION_TEST_BACKEND=driver
run "test_region(driver)" /t/test_region
export POLYNET_REGION_TEST_BACKEND=memfd
run "test_region(memfd)" /t/test_region

# limits need other module parameters; unloading also proves nothing leaked
if rmmod polynet && insmod /polynet.ko max_pinned_mb=8 max_regions_per_uid=4; then
	run vm_limits /t/vm_limits
	rmmod polynet || { fail=$((fail + 1)); failed="$failed rmmod"; }
else
	fail=$((fail + 1)); failed="$failed reload"
fi

if dmesg | grep -E "BUG|WARNING|Oops|KASAN|Call Trace"; then
	fail=$((fail + 1)); failed="$failed dmesg"
fi
if [ "$fail" -eq 0 ]; then
	echo "POLYNET-VM-SUITE: PASS ($pass passed, $skip skipped)"
else
	echo "POLYNET-VM-SUITE: FAIL ($fail failed:$failed; $pass passed, $skip skipped)"
fi
finish
