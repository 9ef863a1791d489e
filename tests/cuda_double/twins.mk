# SPDX-License-Identifier: MIT
# twins.mk - the kernels' CPU twins (tests/cuda_double/twins*.c), included by
# the top Makefile. TWIN_SRCS is what the Driver API double builds into its
# shared library (-fPIC there); here the twins' ASan objects join the suite
# tests/ptx/test_twins.c, whose generic rule (the Makefile's PTX_TEST_BINS)
# links every prerequisite ($^), these included.
TWIN_SRCS := $(sort $(wildcard tests/cuda_double/twins*.c))

$(B)/asan/tests/test_twins: $(patsubst %.c,$(B)/asan/%.o,$(TWIN_SRCS))
