// host_backend.h: a Backend with host memory and the CPU optimizer ops only,
// for the infra tests that need model.c's table, AdamW and checkpoints but no
// forward pass. Include after test.h in at most one file per test program.
#ifndef TB_TEST_HOST_BACKEND_H
#define TB_TEST_HOST_BACKEND_H

#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "kernels/backend.h"
#include "kernels/cpu/cpu_ops.h"

static void *host_alloc(size_t bytes) { return tb_calloc(1, bytes); }
static void host_free(void *p) { free(p); }
static void host_zero(void *p, size_t bytes) { memset(p, 0, bytes); }
static void host_copy(void *dst, const void *src, size_t bytes) { memcpy(dst, src, bytes); }
static void host_sync(void) {}

static const Backend host_backend = {
    .name = "host-test",
    .alloc = host_alloc,
    .free = host_free,
    .zero = host_zero,
    .to_device = host_copy,
    .to_host = host_copy,
    .copy = host_copy,
    .synchronize = host_sync,
    .sum_squares = sum_squares_cpu,
    .adamw_update = adamw_update_cpu,
};

#endif
