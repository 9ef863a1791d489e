# kernels/ptx/ptx.mk - the kernels' assembly check, included by the top Makefile.
#
# `make ptx-check` runs kernels/ptx/check_ptxas.sh (ptxas -v for sm_80 and
# sm_90, registers against each kernel's `// budget: regs N`, no spills) and
# leaves its table in $(B)/ptx_resources.md. `build` depends on it only where
# a ptxas exists, so a machine without CUDA still builds, and one with it
# fails the build on a spill or a kernel over budget.
PTXAS_BIN := $(firstword $(wildcard $(PTXAS) $(shell command -v ptxas 2>/dev/null) /usr/local/cuda/bin/ptxas))
PTX_SRCS  := $(sort $(wildcard kernels/ptx/*.ptx))

.PHONY: ptx-check
ptx-check: $(B)/ptx_resources.md

# A file target: the check reruns only when a kernel (or the script) changed.
$(B)/ptx_resources.md: $(PTX_SRCS) kernels/ptx/check_ptxas.sh
	@mkdir -p $(dir $@)
	@PTXAS=$(PTXAS_BIN) bash kernels/ptx/check_ptxas.sh > $@.tmp || { rm -f $@.tmp; exit 1; }
	@mv $@.tmp $@

ifneq ($(PTXAS_BIN),)
build: ptx-check
endif
