// cuda_test_util.h: what the CUDA kernel tests share. The same test sources
// run under the SIMT emulation (`make test`, -DTB_SIMT_EMU, both scheduling
// orders) and natively on a GPU (`make test-gpu`, one order: the hardware's).
#ifndef TB_CUDA_TEST_UTIL_H
#define TB_CUDA_TEST_UTIL_H

#include <stdlib.h>

#include "kernels/cuda/backend_cuda.h"
#include "lib/common.h"

#ifdef TB_SIMT_EMU
#include "emu/simt_emu_api.h"
static inline int num_orders(void) { return 2; }
static inline void use_order(int order) { simt_set_schedule(order); }
static inline const char *order_name(int order) { return order ? "reversed" : "forward"; }
#else
static inline int num_orders(void) { return 1; }
static inline void use_order(int order) { (void)order; }
static inline const char *order_name(int order) { return (void)order, "gpu"; }
#endif

static const Backend *gpu;

static inline float *dev_upload(const float *host, size_t n) {
    float *d = (float *)gpu->alloc(n * sizeof(float));
    gpu->to_device(d, host, n * sizeof(float));
    return d;
}
static inline int32_t *dev_upload_ints(const int32_t *host, size_t n) {
    int32_t *d = (int32_t *)gpu->alloc(n * sizeof(int32_t));
    gpu->to_device(d, host, n * sizeof(int32_t));
    return d;
}
static inline float *dev_download(const float *dev, size_t n) {
    float *h = (float *)tb_malloc(n * sizeof(float));
    gpu->to_host(h, dev, n * sizeof(float));
    return h;
}
static inline float *host_random(Rng *rng, size_t n, float lo, float hi) {
    float *x = (float *)tb_malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng_uniform(rng);
    return x;
}
static inline float *host_copy(const float *x, size_t n) {
    float *y = (float *)tb_malloc(n * sizeof(float));
    memcpy(y, x, n * sizeof(float));
    return y;
}
// A tensor in both backends' memory, filled alike from the test's generator:
// the CPU op's copy (c) and the CUDA op's (g).
typedef struct {
    float *c, *g;
    size_t n;
} Twin;

static inline Twin twin_random(Rng *rng, size_t n, float lo, float hi) {
    float *h = host_random(rng, n, lo, hi);
    Twin t = {(float *)backend_cpu()->alloc(n * sizeof(float)), dev_upload(h, n), n};
    memcpy(t.c, h, n * sizeof(float));
    free(h);
    return t;
}
static inline void twin_free(Twin *t) { backend_cpu()->free(t->c), gpu->free(t->g); }

// Compares a device tensor with a host reference; names the op and order.
static inline void check_dev(const char *op, const char *tensor, int order, const float *dev,
                      const float *ref, size_t n, float atol, float rtol) {
    char what[128];
    snprintf(what, sizeof what, "%s %s (%s order)", op, tensor, order_name(order));
    float *got = dev_download(dev, n);
    check_close(what, got, ref, n, atol, rtol);
    free(got);
}
// Bitwise equality of two device tensors (the determinism check).
static inline int dev_bits_equal(const float *a, const float *b, size_t n) {
    float *ha = dev_download(a, n), *hb = dev_download(b, n);
    int same = memcmp(ha, hb, n * sizeof(float)) == 0;
    free(ha);
    free(hb);
    return same;
}
static inline int open_gpu(void) {
    gpu = backend_cuda_get();
    if (!gpu) {
        fprintf(stderr, "FAIL no CUDA backend: %s\n", tb_last_error());
        return 0;
    }
    // The op tests call ops directly, with no model to reserve the
    // workspace: cover every shape they use.
    WorkspaceShapes shapes = {4096, 4096, 16, 1 << 20, 4096 * 4096};
    gpu->reserve_workspace(&shapes);
    return 1;
}

#endif
