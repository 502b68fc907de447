// test_bf16.c: bf16 mixed precision on the CPU backend.
//   1. bf16_from_float (kernels/bf16.h, also the SIMT emulation's
//      __float2bfloat16) against round-to-nearest-even written from its
//      definition in double arithmetic, on hand-picked ties and edges and on
//      random bit patterns.
//   2. linear_forward / linear_backward in bf16, each tensor against the
//      product of the rounded operands (exactly rounded, fp32 sums) and
//      against fp32 within the stated bf16 tolerance (tests/bf16_checks.h);
//      the bias gradient stays an fp32 sum and is checked as such.
//   3. The refusals: tf32 on the CPU, bf16 where the processor lacks
//      AVX512-BF16 (TUNEBENCH_HIDE_AVX512BF16, the detection's test seam),
//      by the backend and by `tunebench train --precision bf16`.
//   4. 200 training steps of each architecture's tiny model in bf16 against
//      the same steps in fp32 (same initialisation and batches): see
//      TRAIN_* below for the stated distance.
// Where the processor has no AVX512-BF16, 2 and 4 cannot run and are
// counted as skipped (the emulation's bf16 tests, test_cuda_bf16, still run).
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <omp.h>
#include <sys/wait.h>

#include "../kernels/bf16.h"
#include "../kernels/cpu/cpu_ops.h"
#include "../models/model.h"
#include "../src/runner/config.h"
#include "lib/common.h"
#include "test.h"
#include "bf16_checks.h"

static Rng rng;
static const Backend *cpu;

// ---------------------------------------------------------------- 1. rounding

static double bits_value(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return (double)f;
}

// Round to nearest even from the definition: of the two bf16 values around
// x (its truncation, and the next one away from zero), the nearer in exact
// arithmetic; on a tie the one whose last mantissa bit is 0. Past the
// largest bf16 the next value is 2^128 (infinity), as IEEE's overflow rule has it.
static uint16_t bf16_reference(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u;
    double ax = fabs((double)x), dlo = fabs(bits_value(lo));
    double dhi = (hi & 0x7fffffffu) == 0x7f800000u ? ldexp(1.0, 128) : fabs(bits_value(hi));
    double below = ax - dlo, above = dhi - ax;
    if (below < above) return (uint16_t)(lo >> 16);
    if (above < below) return (uint16_t)(hi >> 16);
    return (uint16_t)(((lo >> 16) & 1u) ? hi >> 16 : lo >> 16);
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_rounding(void) {
    // Stated by hand: ties go to the even neighbour, above a tie goes up.
    struct { uint32_t in; uint16_t want; const char *what; } cases[] = {
        {0x3f800000u, 0x3f80, "1"},
        {0x3f808000u, 0x3f80, "1 + 2^-8, a tie: down to the even 1"},
        {0x3f818000u, 0x3f82, "1 + 3 * 2^-8, a tie: up to the even 1 + 2^-6"},
        {0x3f808001u, 0x3f81, "just above the tie after 1: up"},
        {0x3f807fffu, 0x3f80, "just below it: down"},
        {0xbf818000u, 0xbf82, "-(1 + 3 * 2^-8): the same in magnitude"},
        {0x00000001u, 0x0000, "the smallest subnormal: to zero"},
        {0x00008000u, 0x0000, "a subnormal tie: to the even zero"},
        {0x00018000u, 0x0002, "a subnormal tie: up to the even 0x0002"},
        {0x00010000u, 0x0001, "a bf16 subnormal, exact"},
        {0x7f7f7fffu, 0x7f7f, "just below the tie under the overflow: the largest bf16"},
        {0x7f7f8000u, 0x7f80, "the tie between the largest bf16 and 2^128: infinity"},
        {0x7f7fffffu, 0x7f80, "FLT_MAX: infinity"},
        {0x7f800000u, 0x7f80, "infinity"},
        {0xff800000u, 0xff80, "-infinity"},
        {0x80000000u, 0x8000, "-0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = bf16_from_float(from_bits(cases[i].in));
        CHECK(got == cases[i].want && bf16_reference(from_bits(cases[i].in)) == cases[i].want,
              "bf16 of 0x%08x (%s): got 0x%04x, the reference 0x%04x, want 0x%04x", cases[i].in, cases[i].what,
              got, bf16_reference(from_bits(cases[i].in)), cases[i].want);
    }
    // NaN stays NaN, quiet, with its sign.
    uint16_t nan_bits = bf16_from_float(from_bits(0x7f800001u)), neg_nan = bf16_from_float(from_bits(0xffc00000u));
    CHECK(isnan(bf16_to_float(nan_bits)) && (nan_bits & 0x0040) && isnan(bf16_to_float(neg_nan)) && (neg_nan & 0x8000),
          "NaN rounds to 0x%04x and -NaN to 0x%04x (want quiet NaNs)", nan_bits, neg_nan);
    // Random bit patterns (every exponent), and values near 1 (ties are
    // likely among them: 16 low bits of 0x8000 in 1 of 65536).
    long bad = 0;
    uint32_t first_bad = 0;
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = (uint32_t)rng_u64(&rng);
        if (i % 2) u = 0x3f800000u | (u & 0x007f8000u) | (i % 4 == 1 ? 0x8000u : (u & 0xffffu));
        if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) continue;  // NaN: above
        if (bf16_from_float(from_bits(u)) != bf16_reference(from_bits(u)) && bad++ == 0) first_bad = u;
    }
    CHECK(bad == 0, "bf16 rounding differs from round-to-nearest-even on %ld of 2000000 inputs (first 0x%08x)", bad,
          first_bad);
    // bf16 values convert back exactly.
    int exact = 1;
    for (uint32_t h = 0; h < 0x10000u; h++)
        if ((h & 0x7f80u) != 0x7f80u && bf16_from_float(bf16_to_float((uint16_t)h)) != h) exact = 0;
    CHECK(exact, "a finite bf16 value does not survive bf16 -> float -> bf16");
}

// ---------------------------------------------------------------- 2. linear ops

static float *randn(size_t n, float sd) {
    float *x = tb_malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) x[i] = sd * rng_normal(&rng);
    return x;
}
static float *copy_of(const float *x, size_t n) {
    float *y = tb_malloc(n * sizeof(float) + 1);
    memcpy(y, x, n * sizeof(float));
    return y;
}
// One linear layer in bf16: out, dinp, dweight through the strided views
// (ld = row + pad), dbias in fp32.
static void test_linear(int N, int C, int OC, int w_in_out, int with_bias, int pad) {
    char what[160];
    const float sd_in = 1.0f, sd_w = 0.5f, sd_dout = 1.0f;
    int ld_in = C + pad, ld_out = OC + pad;
    float *inp = randn((size_t)N * ld_in, sd_in), *w = randn((size_t)C * OC, sd_w);
    float *bias = with_bias ? randn(OC, 1.0f) : NULL;
    float *out = randn((size_t)N * ld_out, 1.0f);
    linear_forward_cpu(out, ld_out, inp, ld_in, w, bias, N, C, OC, w_in_out);
    Refs r = linear_forward_refs(inp, ld_in, w, bias, N, C, OC, w_in_out);
    snprintf(what, sizeof what, "bf16 linear_forward N%d C%d OC%d layout%d bias%d pad%d", N, C, OC, w_in_out,
             with_bias, pad);
    check_gemm(what, out, ld_out, N, OC, &r, C + 1, sd_in, sd_w);
    refs_free(&r);

    // The same call again gives the same bits.
    float *again = randn((size_t)N * ld_out, 1.0f);
    linear_forward_cpu(again, ld_out, inp, ld_in, w, bias, N, C, OC, w_in_out);
    int same = 1;
    for (int i = 0; i < N; i++) same &= memcmp(again + (size_t)i * ld_out, out + (size_t)i * ld_out, OC * sizeof(float)) == 0;
    CHECK(same, "%s: two calls differ", what);

    float *dout = randn((size_t)N * ld_out, sd_dout), *dinp = randn((size_t)N * ld_in, 1.0f);
    float *dw0 = randn((size_t)C * OC, 1.0f), *dw = copy_of(dw0, (size_t)C * OC);
    float *db0 = randn(OC, 1.0f), *db = copy_of(db0, OC);
    linear_backward_cpu(dinp, ld_in, dw, with_bias ? db : NULL, dout, ld_out, inp, ld_in, w, N, C, OC, w_in_out);
    Refs rd, rw;
    double *rdb;
    linear_backward_refs(&rd, &rw, &rdb, dout, ld_out, inp, ld_in, w, dw0, db0, N, C, OC, w_in_out);
    snprintf(what, sizeof what, "bf16 linear_backward dinp N%d C%d OC%d layout%d pad%d", N, C, OC, w_in_out, pad);
    check_gemm(what, dinp, ld_in, N, C, &rd, OC, sd_dout, sd_w);
    snprintf(what, sizeof what, "bf16 linear_backward dweight N%d C%d OC%d layout%d pad%d", N, C, OC, w_in_out, pad);
    // dweight accumulates onto unit-size values: its tolerance is the sum's.
    check_gemm(what, dw, w_in_out ? OC : C, w_in_out ? C : OC, w_in_out ? OC : C, &rw, N + 1, sd_dout, sd_in);
    if (with_bias) {
        float *rdbf = tb_malloc(OC * sizeof(float));
        for (int o = 0; o < OC; o++) rdbf[o] = (float)rdb[o];
        snprintf(what, sizeof what, "bf16 linear_backward dbias (an fp32 sum) N%d OC%d", N, OC);
        check_close(what, db, rdbf, OC, 1e-5f * sqrtf((float)N), 1e-5f);
        free(rdbf);
    }
    refs_free(&rd);
    refs_free(&rw);
    free(rdb), free(inp), free(w), free(bias), free(out), free(again), free(dout), free(dinp), free(dw0), free(dw);
    free(db0), free(db);
}

// A product big enough to be split over the threads gives the same bits
// with 1 thread and with 2.
static void test_threads_same_bits(void) {
    int N = 300, C = 96, OC = 200;
    float *inp = randn((size_t)N * C, 1.0f), *w = randn((size_t)C * OC, 0.5f);
    float *o1 = tb_malloc((size_t)N * OC * sizeof(float)), *o2 = tb_malloc((size_t)N * OC * sizeof(float));
    int threads = omp_get_max_threads();
    cpu->set_threads(1);
    linear_forward_cpu(o1, OC, inp, C, w, NULL, N, C, OC, 0);
    cpu->set_threads(2);
    linear_forward_cpu(o2, OC, inp, C, w, NULL, N, C, OC, 0);
    cpu->set_threads(threads);
    CHECK(memcmp(o1, o2, (size_t)N * OC * sizeof(float)) == 0, "bf16 linear_forward differs between 1 and 2 threads");
    free(inp), free(w), free(o1), free(o2);
}

// ---------------------------------------------------------------- 3. refusals

static void test_refusals(const char *argv0) {
    BackendInfo info;
    CHECK(cpu->set_precision(PRECISION_FP32) == 0, "fp32 refused: %s", tb_last_error());
    CHECK(cpu->set_precision(PRECISION_TF32) == -1 && strstr(tb_last_error(), "GPU"),
          "tf32 on the CPU: want a refusal naming it a GPU mode, got '%s'", tb_last_error());
    setenv("TUNEBENCH_HIDE_AVX512BF16", "1", 1);
    int rc = cpu->set_precision(PRECISION_BF16);
    CHECK(rc == -1 && strstr(tb_last_error(), "AVX512-BF16") && strstr(tb_last_error(), "--precision fp32"),
          "bf16 without AVX512-BF16: want a refusal that names it and the way out, got %d '%s'", rc, tb_last_error());
    cpu->describe(&info);
    CHECK(tb_streq(info.precision, "fp32"), "after the refusal the backend computes in '%s', want fp32", info.precision);
    CHECK(precision_by_name("fp16") == -1 && strstr(tb_last_error(), "fp32|tf32|bf16"),
          "an unknown precision: '%s'", tb_last_error());

    // The CLI says it in one line before it reads anything, exit status 1.
    char cmd[1024];
    test_find_tunebench(argv0);
    snprintf(cmd, sizeof cmd, "%s train --config experiments/gpt2-6m.json --precision bf16 --steps 2 2>&1",
             test_tunebench());
    FILE *p = popen(cmd, "r");
    char out[4096] = "";
    size_t got = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[got] = '\0';
    int status = p ? pclose(p) : -1;
    int lines = 0;
    for (const char *c = out; *c; c++) lines += *c == '\n';
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1 && lines == 1 && strstr(out, "key 'precision'") &&
              strstr(out, "AVX512-BF16"),
          "tunebench train --precision bf16 without AVX512-BF16: exit %d, %d lines: %s",
          WIFEXITED(status) ? WEXITSTATUS(status) : -1, lines, out);
    unsetenv("TUNEBENCH_HIDE_AVX512BF16");
}

// The config key: fp32 by default, the names of kernels/precisions.def only,
// in the record's config, and refused with data-parallel ranks (the other
// ranks would compute in fp32).
static void test_config_key(void) {
    ExperimentConfig cfg;
    config_defaults(&cfg);
    CHECK(tb_streq(cfg.precision, "fp32"), "the default precision is '%s'", cfg.precision);
    CHECK(config_set(&cfg, "precision", "fp16", "--precision") == -1 && strstr(tb_last_error(), "fp32|tf32|bf16"),
          "precision fp16: '%s'", tb_last_error());
    CHECK(config_set(&cfg, "precision", "bf16", "--precision") == 0 && tb_streq(cfg.precision, "bf16"),
          "precision bf16: %s", tb_last_error());
    cJSON *json = config_to_json(&cfg);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(json, "precision");
    CHECK(cJSON_IsString(p) && tb_streq(p->valuestring, "bf16"), "the config's JSON lacks precision bf16");
    cJSON_Delete(json);
    snprintf(cfg.experiment, sizeof cfg.experiment, "x"), snprintf(cfg.model, sizeof cfg.model, "tiny-gpt2");
    CHECK(config_set(&cfg, "ranks", "2", "--ranks") == 0 && config_check(&cfg) == -1 &&
              strstr(tb_last_error(), "key 'precision'") && strstr(tb_last_error(), "ranks 1"),
          "bf16 with 2 ranks: '%s'", tb_last_error());
}

// ---------------------------------------------------------------- 4. training

// The distance stated for 200 steps: the mean training loss of the last
// TRAIN_WINDOW steps in bf16 is within TRAIN_FINAL_TOL nats of fp32's, and no
// step's loss differs by more than TRAIN_STEP_TOL (measured: at most 0.0009
// nats on any step of the three models). Both runs must learn (their last
// window below the first step's loss by TRAIN_LEARNED), and bf16 must not be
// fp32 in disguise (some step's loss differs).
enum { TRAIN_STEPS = 200, TRAIN_B = 4, TRAIN_T = 16, TRAIN_V = 32, TRAIN_WINDOW = 20 };
#define TRAIN_FINAL_TOL 0.01
#define TRAIN_STEP_TOL 0.02
#define TRAIN_LEARNED 0.8

// A stream with structure to learn: a period-11 melody of the vocabulary,
// with one token in ten replaced at random.
static void make_stream(int32_t *s, int n, Rng *r) {
    int32_t motif[11];
    for (int i = 0; i < 11; i++) motif[i] = (int32_t)rng_below(r, TRAIN_V);
    for (int i = 0; i < n; i++) s[i] = rng_below(r, 10) == 0 ? (int32_t)rng_below(r, TRAIN_V) : motif[i % 11];
}

static void train(const char *config, Precision p, float *losses) {
    ModelSpec spec;
    if (model_spec_by_name(&spec, config, TRAIN_V)) tb_die("%s", tb_last_error());
    if (cpu->set_precision(p)) tb_die("%s", tb_last_error());
    Model *m = model_create(&spec, cpu);
    if (!m) tb_die("%s", tb_last_error());
    m->vt->init_weights(m, 7);
    if (m->vt->alloc_activations(m, TRAIN_B, TRAIN_T)) tb_die("%s", tb_last_error());
    OptimConfig oc;
    optim_config_default(&oc);
    oc.lr = 3e-3f, oc.min_lr = 3e-4f, oc.warmup_steps = 20, oc.total_steps = TRAIN_STEPS;
    enum { STREAM = 4096 };
    int32_t *stream = tb_malloc(STREAM * sizeof(int32_t));
    int32_t inp[TRAIN_B * TRAIN_T], tgt[TRAIN_B * TRAIN_T];
    Rng r;
    rng_seed(&r, 11);
    make_stream(stream, STREAM, &r);
    for (int step = 1; step <= TRAIN_STEPS; step++) {
        for (int b = 0; b < TRAIN_B; b++) {
            int at = (int)rng_below(&r, STREAM - TRAIN_T - 1);
            for (int t = 0; t < TRAIN_T; t++) inp[b * TRAIN_T + t] = stream[at + t], tgt[b * TRAIN_T + t] = stream[at + t + 1];
        }
        m->vt->forward(m, inp, tgt, TRAIN_B, TRAIN_T);
        losses[step - 1] = m->acts->loss;
        model_zero_grad(m);
        m->vt->backward(m);
        model_adamw_step(m, &oc, step, optim_lr_at(&oc, step));
    }
    free(stream);
    model_destroy(m);
    cpu->set_precision(PRECISION_FP32);
}

static double window_mean(const float *x) {
    double s = 0;
    for (int i = TRAIN_STEPS - TRAIN_WINDOW; i < TRAIN_STEPS; i++) s += x[i];
    return s / TRAIN_WINDOW;
}

static void test_training(const char *config) {
    float l32[TRAIN_STEPS], l16[TRAIN_STEPS];
    train(config, PRECISION_FP32, l32);
    train(config, PRECISION_BF16, l16);
    double worst = 0, differs = 0;
    int worst_step = 0;
    for (int i = 0; i < TRAIN_STEPS; i++) {
        double d = fabs((double)l16[i] - l32[i]);
        if (!(d <= worst)) worst = d, worst_step = i + 1;
        if (l16[i] != l32[i]) differs = 1;
    }
    double f32 = window_mean(l32), f16 = window_mean(l16);
    printf("%s, %d steps: first loss %.4f; last %d steps' mean fp32 %.4f, bf16 %.4f (|diff| %.4f); "
           "largest step difference %.4f at step %d\n", config, TRAIN_STEPS, l32[0], TRAIN_WINDOW, f32, f16,
           fabs(f16 - f32), worst, worst_step);
    CHECK(f32 < l32[0] - TRAIN_LEARNED && f16 < l16[0] - TRAIN_LEARNED,
          "%s: a run did not learn (first %.4f; last window fp32 %.4f, bf16 %.4f)", config, l32[0], f32, f16);
    CHECK(fabs(f16 - f32) <= TRAIN_FINAL_TOL, "%s: the last %d steps' mean loss differs by %.4f (bf16 %.4f, fp32 "
          "%.4f); allowed %.2f", config, TRAIN_WINDOW, fabs(f16 - f32), f16, f32, TRAIN_FINAL_TOL);
    CHECK(worst <= TRAIN_STEP_TOL, "%s: step %d's loss differs by %.4f between bf16 and fp32; allowed %.2f", config,
          worst_step, worst, TRAIN_STEP_TOL);
    CHECK(differs, "%s: the bf16 run's losses are fp32's bit for bit: the precision did not apply", config);
}

int main(int argc, char **argv) {
    (void)argc;
    rng_seed(&rng, 2024);
    cpu = backend_cpu();
    test_rounding();
    test_refusals(argv[0]);
    test_config_key();

    // Operands up to 300 x 300 (and the training's tiny models reserve their own).
    WorkspaceShapes shapes = {512, 512, 0, 0, 300 * 300};
    cpu->reserve_workspace(&shapes);
    if (cpu->set_precision(PRECISION_BF16)) {
        SKIP("the bf16 ops and training: %s", tb_last_error());
        return test_summary("test_bf16");
    }
    BackendInfo info;
    // Every path of the bf16 GEMM: AMX tiles where this machine has them,
    // then (TUNEBENCH_NO_AMX) cblas_sbgemm or cblas_sgemm on rounded values.
    for (int amx = cpu_amx_available(); amx >= 0; amx--) {
        if (amx) unsetenv("TUNEBENCH_NO_AMX");
        else setenv("TUNEBENCH_NO_AMX", "1", 1);
        CHECK(cpu->set_precision(PRECISION_BF16) == 0, "bf16: %s", tb_last_error());
        cpu->describe(&info);
        printf("bf16 on the CPU: %s\n", info.device);
        CHECK(tb_streq(info.precision, "bf16") && strstr(info.device, "bf16 GEMMs: ") &&
                  (strstr(info.device, "AMX tiles") != NULL) == amx,
              "in bf16 (AMX %d) the CPU backend describes itself as '%s', '%s'", amx, info.device, info.precision);
        for (int layout = 0; layout < 2; layout++)
            for (int bias = 0; bias < 2; bias++) test_linear(37, 67, 45, layout, bias, 0);
        test_linear(29, 40, 51, 0, 1, 3);    // strided views
        test_linear(64, 96, 33, 1, 0, 0);    // whole AMX blocks along the rows
        test_linear(40, 31, 70, 0, 1, 0);    // depth under 32: not on AMX
        test_linear(1, 64, 96, 1, 1, 0);     // a decode step (N = 1)
        test_linear(300, 96, 200, 0, 1, 0);  // split over the threads
        test_threads_same_bits();
    }
    unsetenv("TUNEBENCH_NO_AMX");
    cpu->set_precision(PRECISION_FP32);
    cpu->describe(&info);
    CHECK(tb_streq(info.precision, "fp32"), "back in fp32 the backend says '%s'", info.precision);

    static const char *const configs[] = {"tiny-gpt2", "tiny-mamba", "tiny-lstm"};
    for (int i = 0; i < 3; i++) test_training(configs[i]);
    return test_summary("test_bf16");
}
