/* SPDX-License-Identifier: MIT */
/*
 * ptx_blobs.h - the kernels of kernels/ptx/ embedded in polynetd at build
 * time (kernels/ptx/embed_blobs.sh writes build/gen/ptx_blobs.c): each
 * file's PTX text, NUL-terminated, and, where the build machine had ptxas,
 * its cubins for sm_80 (runs on every 8.x) and sm_90. The CUDA backend
 * loads a cubin where one matches the device and JITs the PTX otherwise.
 */
#ifndef PND_PTX_BLOBS_H
#define PND_PTX_BLOBS_H

#include <stddef.h>

struct pnd_ptx_blob {
	const char *file;		/* "gemm_f32.ptx" */
	const char *ptx;		/* NUL-terminated */
	const unsigned char *sm80, *sm90;	/* NULL: not assembled */
	size_t sm80_len, sm90_len;
};

extern const struct pnd_ptx_blob pnd_ptx_blobs[];
extern const unsigned pnd_n_ptx_blobs;

#endif /* PND_PTX_BLOBS_H */
