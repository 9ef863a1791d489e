#!/usr/bin/env bash
# polynetd's CUDA backend on the Driver API double (tests/cuda_double/):
#  - no libcuda: --backend auto says why and runs on the CPU, --backend cuda
#    refuses to start, naming the library;
#  - the double's devices in the ready line and `polyctl stat --json` (NUMA
#    node, memory, memory by use), and in the stat table;
#  - a model's bytes uploaded once per device, the same content loaded twice
#    not again, its graphs instantiated at LOAD and only patched by jobs,
#    its device memory freed by the unload;
#  - the real model end to end through the PTX interpreter (every kernel run
#    by ptxi, not by a twin) against the in-process CPU run at 1e-4.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh
DOUBLE=$B/rel/tests/cuda_double/libcuda.so.1
[ -f "$DOUBLE" ] || { echo "skip: $DOUBLE not built (make build)"; exit 77; }
"$DC" mkmodel fixture "$T/fx.pnb" || fail "mkmodel"
BACKEND_ARGS=()	# each part below says its own --backend

# 1. no driver
POLYNET_LIBCUDA=$T/none/libcuda.so.1 start_daemon --workers 1
grep -q "backend=cpu .*(.*$T/none/libcuda.so.1.*)$" "$T/daemon.out" \
	|| fail "auto without a driver: $(cat "$T/daemon.out")"
pctl stat --json | python3 -c '
import json, sys
d = json.load(sys.stdin)["daemon"]
assert d["backend"] == "cpu" and "libcuda" in d["backend_reason"], d
assert "devices" not in d' || fail "stat without a driver"
stop_daemon
POLYNET_LIBCUDA=$T/none/libcuda.so.1 "$POLYNETD" --socket "$SOCK" --state "$STATE" \
	--backend cuda >"$T/o" 2>"$T/e" && fail "--backend cuda started with no driver"
grep -q "backend cuda: .*$T/none/libcuda.so.1" "$T/e" || fail "no reason given: $(cat "$T/e")"
echo "no driver: auto ran on the CPU and said why; --backend cuda refused"

# 2. the double's devices
export POLYNET_LIBCUDA=$DOUBLE CUDA_DOUBLE_DEVICES=2 CUDA_DOUBLE_MEM_MB=512
export CUDA_DOUBLE_EXEC=twin CUDA_DOUBLE_LOG=$T/cu.log
start_daemon --workers 2 --backend cuda
grep -q "backend=cuda devices=2 driver=[0-9]*\.[0-9]" "$T/daemon.out" \
	|| fail "ready line: $(cat "$T/daemon.out")"
pctl load "$T/fx.pnb" >/dev/null || fail "load fixture"
cp "$T/fx.pnb" "$T/fx2.pnb"
pctl load "$T/fx2.pnb" >/dev/null || fail "load the same content again"
size=$(stat -c %s "$T/fx.pnb")
pctl stat --json >"$T/stat.json" || fail "stat --json"
python3 - "$T/stat.json" "$size" <<'PY' || fail "stat --json devices"
import json, sys
s = json.load(open(sys.argv[1])); size = int(sys.argv[2])
assert s["daemon"]["backend"] == "cuda", s["daemon"]
devs = s["devices"]
assert [d["ordinal"] for d in devs] == [0, 1], devs
for d in devs:
    assert d["total_mem"] == 512 << 20, d
    assert d["numa_node"] == -1, d          # no sysfs node for the double's PCI address
    assert d["cc"] == "9.0" and d["pci_bus_id"], d
    assert d["mem_weights"] == size, (d, size)   # once per device, not per load
    assert d["mem_graphs"] > 0 and d["mem_staging"] > 0, d
    assert d["resets"] == 0, d
PY
[ "$(grep -c "^memcpy_htod dev=0 bytes=$size\$" "$T/cu.log")" -eq 1 ] \
	|| fail "the weights went to device 0 $(grep -c "bytes=$size" "$T/cu.log") times"
[ "$(grep -c "^memcpy_htod dev=1 bytes=$size\$" "$T/cu.log")" -eq 1 ] || fail "device 1's upload"
pctl stat | grep -q "^  0  PolyNet CUDA double" || fail "stat table: $(pctl stat)"
inst=$(grep -c "^graph_instantiate" "$T/cu.log")
[ "$inst" -gt 0 ] || fail "no graph instantiated at LOAD"
"$DC" stress "$SOCK" fixture "$T/fx.pnb" 300 4 5 || fail "jobs on the double"
[ "$(grep -c "^graph_instantiate" "$T/cu.log")" -eq "$inst" ] || fail "jobs instantiated graphs"
grep -q "^graph_set_params" "$T/cu.log" || fail "no graph node patched for another shape"
grep -q "^graph_launch" "$T/cu.log" || fail "no graph launched"
grep "^launch " "$T/cu.log" | grep -qv "mode=twin" && fail "a launch not run by a twin"
pctl unload fixture >/dev/null || fail "unload"
pctl stat --json | python3 -c '
import json, sys
for d in json.load(sys.stdin)["devices"]:
    assert d["mem_weights"] == 0 and d["mem_graphs"] == 0 and d["mem_staging"] == 0, d' \
	|| fail "device memory kept after the unload"
stop_daemon
echo "double: 2 devices reported; weights uploaded once per device; graphs made at LOAD," \
     "patched by jobs; unload freed them"

# 3. the real model through the interpreter
USE=${POLYNET_USE_PNB:-$B/use.pnb}
if [ ! -f "$USE" ]; then
	echo "note: $USE absent, the real model was not run (make model)"
	exit 0
fi
export CUDA_DOUBLE_EXEC=interp CUDA_DOUBLE_DEVICES=1 CUDA_DOUBLE_MEM_MB=1024
: >"$T/cu.log"
start_daemon --workers 1 --max-batch 4 --backend cuda
pctl load "$USE" >/dev/null || fail "load $USE"
head -n 3 tests/data/sentences.txt >"$T/three.txt"
t0=$SECONDS
pctl run use-lite --text-file "$T/three.txt" --batch 3 --json >"$T/remote.jsonl" || fail "run on the double"
secs=$((SECONDS - t0))
"$POLYCTL" run "$USE" --text-file "$T/three.txt" --json >"$T/local.jsonl" || fail "run in process"
python3 tests/integration/same_embeddings.py 1e-4 "$T/remote.jsonl" "$T/local.jsonl" \
	|| fail "the real model through the interpreter differs from the CPU"
grep "^launch \|^graph_launch" "$T/cu.log" >/dev/null || fail "nothing launched"
kernels=$(grep -o "entry=[a-z_0-9]* .*mode=interp" "$T/cu.log" | awk '{print $1}' | sort -u | wc -l)
[ "$kernels" -gt 0 ] || fail "no kernel ran in the interpreter"
stop_daemon
echo "use-lite, 3 sentences, through polynetd on the double's PTX interpreter ($kernels" \
     "kernels, ${secs} s): within 1e-4 of the CPU"
