// test_mamba_mixer_step.c: the fused Mamba decode step (mamba_mixer_step) on
// the CPU against the unfused sequence of ops it stands for
// (tests/mixer_step_case.h), and what a Mamba decode step costs in ops.
//
// The CPU op is those ops' arithmetic in order, so u, x_dbl, delta_raw and
// both states must match their bits, and the gated out (on a strided view),
// whose 16-term sums over the states may run in another order, must match
// within 1e-6 + 1e-5 |ref|; over three steps in a row, for one sequence and
// for several (split over the threads), with d_state 16 (by blocks of 16
// channels) and another, and with channel counts off the 16-lane blocks
// (which take the per-sequence path). A Mamba decode step of one
// token per sequence makes 3 + 4 ops per layer (embedding, first norm; per
// layer in_proj, the fused step, out_proj, add + next norm; the head), the
// same for 1 and for 4 sequences, and none of the unfused step ops.
#include "test.h"

#include "../kernels/backend_hooks.h"
#include "../models/model.h"
#include "mixer_step_case.h"

static void test_against_unfused(int B, int D, int S, int R, int K) {
    const Backend *cpu = backend_cpu();
    MixerCase fused, ref;
    mixer_case_create(&fused, cpu, B, D, S, R, K, 7);
    mixer_case_create(&ref, cpu, B, D, S, R, K, 7);
    const char *names[MIXER_OUTPUTS];
    float *got[MIXER_OUTPUTS], *want[MIXER_OUTPUTS];
    size_t sizes[MIXER_OUTPUTS];
    mixer_outputs(&fused, names, got, sizes);
    mixer_outputs(&ref, names, want, sizes);
    for (int step = 0; step < 3; step++) {
        cpu->mamba_mixer_step(&fused.p);
        mixer_unfused(&ref);
        for (int i = 0; i < MIXER_OUTPUTS; i++) {
            char what[160];
            snprintf(what, sizeof what, "mamba_mixer_step (cpu) B %d D %d S %d R %d K %d, step %d: %s", B, D, S,
                     R, K, step, names[i]);
            if (got[i] == fused.out)
                check_close(what, got[i], want[i], sizes[i], 1e-6f, 1e-5f);
            else
                CHECK(memcmp(got[i], want[i], sizes[i] * sizeof(float)) == 0, "%s differs from the unfused ops'",
                      what);
        }
    }
    // Not a no-op: the state moved, and out is not all zeros.
    float *out = mixer_download(&fused, fused.out, sizes[3]);
    double mass = 0;
    for (size_t i = 0; i < sizes[3]; i++) mass += fabs(out[i]);
    CHECK(mass > 1e-3 * sizes[3], "mamba_mixer_step (cpu) B %d D %d: out is (nearly) zero", B, D);
    free(out);
    mixer_case_free(&fused), mixer_case_free(&ref);
}

// ---------------------------------------------------------------- ops per decode step

typedef struct {
    long compute, mixer, unfused;
} OpCounts;

static void count_op(const char *op, void *ctx) {
    OpCounts *c = ctx;
    int i = backend_op_index(op);
    if (i < 0 || backend_op_kinds[i] != BACKEND_KIND_COMPUTE) return;
    c->compute++;
    c->mixer += tb_streq(op, "mamba_mixer_step");
    c->unfused += tb_streq(op, "selective_scan_step") || tb_streq(op, "conv1d_silu_step");
}

static void test_decode_ops(int B) {
    OpCounts counts = {0, 0, 0};
    const Backend *be = backend_with_hooks(backend_cpu(), count_op, &counts);
    ModelSpec spec;
    if (model_spec_by_name(&spec, "tiny-mamba", 40)) tb_die("%s", tb_last_error());
    Model *m = model_create(&spec, be);
    if (!m) tb_die("%s", tb_last_error());
    m->vt->init_weights(m, 3);
    DecodeState *ds = decode_state_create(m, B);
    if (!ds) tb_die("%s", tb_last_error());
    int32_t tokens[2 * 4] = {1, 2, 3, 4, 5, 6, 7, 8};
    float *logits = tb_malloc((size_t)B * 40 * sizeof(float));
    decode_state_run(m, ds, tokens, B, 2, logits);  // a prefill (the chunked scan)
    counts = (OpCounts){0, 0, 0};
    decode_state_run(m, ds, tokens, B, 1, logits);
    const long L = m->spec.n_layer;
    printf("  tiny-mamba (%ld layers), %d sequences: %ld ops per decode step (3 + 4 per layer; unfused 3 + 7 "
           "per layer = %ld)\n", L, B, counts.compute, 3 + 7 * L);
    CHECK(counts.compute == 3 + 4 * L && counts.mixer == L && counts.unfused == 0,
          "a Mamba decode step of %d sequences: %ld ops, %ld fused steps, %ld unfused step ops (want %ld, %ld, 0)",
          B, counts.compute, counts.mixer, counts.unfused, 3 + 4 * L, L);
    free(logits);
    decode_state_destroy(m, ds);
    model_destroy(m);
}

int main(void) {
    test_against_unfused(1, 64, 16, 8, 4);
    test_against_unfused(6, 128, 16, 8, 4);   // blocks of 16 channels split over the threads
    test_against_unfused(5, 300, 16, 19, 4);  // 300 channels: the per-sequence path, split over the threads
    test_against_unfused(3, 37, 5, 3, 3);
    test_decode_ops(1);
    test_decode_ops(4);
    return test_summary("test_mamba_mixer_step");
}
