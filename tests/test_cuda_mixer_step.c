// test_cuda_mixer_step.c: the CUDA backend's fused Mamba decode step
// (mamba_mixer_step, one launch) under the SIMT emulation in both scheduling
// orders (and, through test_cuda_deferred.sh, in the deferred mode), or
// natively (`make test-gpu`):
//   - against the unfused sequence of CUDA ops it stands for
//     (tests/mixer_step_case.h: conv1d_silu_step, two linear_forward,
//     selective_scan_step), every tensor it writes, over two steps in a row;
//   - against the CPU backend's op, the same way;
//   - in bf16, against the unfused CUDA ops in bf16 (the projections' operands
//     rounded alike, only the order of the fp32 sums differs);
//   - the same bits twice, and one launch per call.
// Shapes: one sequence and several, d_state 16 and 5, more channels than a
// block has threads, strided x, z and out.
#include "test.h"

#include "cuda_test_util.h"
#include "mixer_step_case.h"

// |a - b| <= atol + rtol |b|: fp32 sums in another order, and the device's
// expf against the CPU's, through a recurrence of two steps.
#define TOL_STEP 2e-5f, 2e-4f

static void compare_cases(const char *what, const MixerCase *a, const MixerCase *b, int order) {
    const char *names[MIXER_OUTPUTS];
    float *pa[MIXER_OUTPUTS], *pb[MIXER_OUTPUTS];
    size_t sizes[MIXER_OUTPUTS];
    mixer_outputs(a, names, pa, sizes);
    mixer_outputs(b, names, pb, sizes);
    for (int i = 0; i < MIXER_OUTPUTS; i++) {
        float *ha = mixer_download(a, pa[i], sizes[i]), *hb = mixer_download(b, pb[i], sizes[i]);
        char full[200];
        snprintf(full, sizeof full, "%s: %s (%s order)", what, names[i], order_name(order));
        check_close(full, ha, hb, sizes[i], TOL_STEP);
        free(ha), free(hb);
    }
}

static void test_shape(int order, int B, int D, int S, int R, int K) {
    char what[160];
    MixerCase fused, unfused, cpu_case, again;
    mixer_case_create(&fused, gpu, B, D, S, R, K, 9);
    mixer_case_create(&unfused, gpu, B, D, S, R, K, 9);
    mixer_case_create(&cpu_case, backend_cpu(), B, D, S, R, K, 9);
    mixer_case_create(&again, gpu, B, D, S, R, K, 9);
    for (int step = 0; step < 2; step++) {
        CudaCounters before, after;
        backend_cuda_counters(&before);
        gpu->mamba_mixer_step(&fused.p);
        backend_cuda_counters(&after);
        CHECK(after.kernel_launches - before.kernel_launches == 1 && after.gemm_calls == before.gemm_calls,
              "mamba_mixer_step (cuda) B %d D %d: %lld launches and %lld GEMMs for one call", B, D,
              after.kernel_launches - before.kernel_launches, after.gemm_calls - before.gemm_calls);
        mixer_unfused(&unfused);
        backend_cpu()->mamba_mixer_step(&cpu_case.p);
        gpu->mamba_mixer_step(&again.p);
        snprintf(what, sizeof what, "mamba_mixer_step B %d D %d S %d R %d K %d step %d, fused against unfused (cuda)",
                 B, D, S, R, K, step);
        compare_cases(what, &fused, &unfused, order);
        snprintf(what, sizeof what, "mamba_mixer_step B %d D %d S %d R %d K %d step %d, cuda against cpu", B, D, S,
                 R, K, step);
        compare_cases(what, &fused, &cpu_case, order);
    }
    const char *names[MIXER_OUTPUTS];
    float *pf[MIXER_OUTPUTS], *pa[MIXER_OUTPUTS];
    size_t sizes[MIXER_OUTPUTS];
    mixer_outputs(&fused, names, pf, sizes);
    mixer_outputs(&again, names, pa, sizes);
    int same = 1;
    for (int i = 0; i < MIXER_OUTPUTS; i++) same &= dev_bits_equal(pf[i], pa[i], sizes[i]);
    CHECK(same, "mamba_mixer_step (cuda) B %d D %d: two runs from the same inputs differ (%s order)", B, D,
          order_name(order));
    mixer_case_free(&fused), mixer_case_free(&unfused), mixer_case_free(&cpu_case), mixer_case_free(&again);
}

// In bf16 the fused op rounds the projections' operands as the bf16 GEMMs do.
static void test_bf16(int order) {
    if (gpu->set_precision(PRECISION_BF16)) {
        CHECK(0, "the CUDA backend refused bf16: %s", tb_last_error());
        return;
    }
    MixerCase fused, unfused, fp32;
    mixer_case_create(&fused, gpu, 3, 300, 16, 19, 4, 5);
    mixer_case_create(&unfused, gpu, 3, 300, 16, 19, 4, 5);
    mixer_case_create(&fp32, gpu, 3, 300, 16, 19, 4, 5);
    gpu->mamba_mixer_step(&fused.p);
    mixer_unfused(&unfused);
    compare_cases("mamba_mixer_step in bf16, fused against unfused (cuda)", &fused, &unfused, order);
    if (gpu->set_precision(PRECISION_FP32)) tb_die("%s", tb_last_error());
    gpu->mamba_mixer_step(&fp32.p);
    // The rounding shows: x_dbl in bf16 is not x_dbl in fp32.
    size_t n = 3 * (19 + 2 * 16);
    CHECK(!dev_bits_equal(fused.x_dbl, fp32.x_dbl, n), "mamba_mixer_step: bf16 gives the fp32 bits (%s order)",
          order_name(order));
    mixer_case_free(&fused), mixer_case_free(&unfused), mixer_case_free(&fp32);
}

int main(void) {
    if (!open_gpu()) return test_summary("test_cuda_mixer_step") | 1;
    for (int order = 0; order < num_orders(); order++) {
        use_order(order);
        test_shape(order, 1, 64, 16, 8, 4);
        test_shape(order, 3, 300, 16, 19, 4);  // more channels than the block's 256 threads
        test_shape(order, 2, 37, 5, 3, 3);
        test_bf16(order);
    }
    return test_summary("test_cuda_mixer_step");
}
