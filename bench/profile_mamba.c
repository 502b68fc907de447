// profile_mamba.c: where a Mamba training step and a decode step spend their time.
//
//   build/bench/profile_mamba [config] [steps] [threads]   (make profile-mamba)
//
// Wraps the CPU backend's ops in timers (a Backend whose entries call the
// real op and add the elapsed time to a per-op total), then runs training
// steps at batch 8 x 256 and batch-1 decode steps through the ordinary model
// code. A development tool: the benchmark of record is `tunebench bench`.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../kernels/cpu/cpu_ops.h"
#include "../models/model.h"
#include "../src/bench_mamba.h"
#include "../src/common.h"

enum { OP_LIN_F, OP_LIN_B, OP_RMS_F, OP_RMS_B, OP_SILU_F, OP_SILU_B, OP_CONV_F, OP_CONV_B,
       OP_SCAN_F, OP_SCAN_B, OP_SCAN_STEP, OP_CONV_STEP, OP_ADD, OP_ACC, OP_COPY, OP_CE,
       OP_EMB_F, OP_EMB_B, OP_COUNT };
static const char *op_names[OP_COUNT] = {
    "linear_forward", "linear_backward", "rmsnorm_forward", "rmsnorm_backward",
    "silu_forward", "silu_backward", "conv1d_forward", "conv1d_backward",
    "scan_forward", "scan_backward", "scan_step", "conv1d_silu_step", "add", "accumulate", "copy",
    "crossentropy", "embedding_forward", "embedding_backward"};
static double op_seconds[OP_COUNT];
static long op_calls[OP_COUNT];
static const Backend *real;
// With one thread, the process's CPU time: on a machine shared with other
// jobs it counts only the time this process ran. With more, wall-clock time.
static int use_cpu_time;
static double now(void) {
    if (!use_cpu_time) return omp_get_wtime();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

#define TIMED(op, call)                        \
    do {                                       \
        double t0_ = now();                  \
        call;                                  \
        op_seconds[op] += now() - t0_;         \
        op_calls[op]++;                        \
    } while (0)

static void w_lin_f(float *o, const float *i, const float *w, const float *b, int N, int C, int OC,
                    int f) { TIMED(OP_LIN_F, real->linear_forward(o, i, w, b, N, C, OC, f)); }
static void w_lin_b(float *di, float *dw, float *db, const float *d, const float *i, const float *w,
                    int N, int C, int OC, int f) {
    TIMED(OP_LIN_B, real->linear_backward(di, dw, db, d, i, w, N, C, OC, f));
}
static void w_rms_f(float *o, float *r, const float *i, const float *w, int N, int C, float e) {
    TIMED(OP_RMS_F, real->rmsnorm_forward(o, r, i, w, N, C, e));
}
static void w_rms_b(float *di, float *dw, const float *d, const float *i, const float *w,
                    const float *r, int N, int C) {
    TIMED(OP_RMS_B, real->rmsnorm_backward(di, dw, d, i, w, r, N, C));
}
static void w_silu_f(float *o, int os, const float *i, int is, int n, int c) {
    TIMED(OP_SILU_F, real->silu_forward(o, os, i, is, n, c));
}
static void w_silu_b(float *di, int ds, const float *i, int is, const float *d, int n, int c) {
    TIMED(OP_SILU_B, real->silu_backward(di, ds, i, is, d, n, c));
}
static void w_conv_f(float *o, const float *x, int xs, const float *xp, const float *w,
                     const float *b, int B, int L, int D, int K) {
    TIMED(OP_CONV_F, real->conv1d_forward(o, x, xs, xp, w, b, B, L, D, K));
}
static void w_conv_b(float *dx, int dxs, float *dw, float *db, const float *d, const float *x, int xs,
                     const float *w, int B, int L, int D, int K) {
    TIMED(OP_CONV_B, real->conv1d_backward(dx, dxs, dw, db, d, x, xs, w, B, L, D, K));
}
static void w_scan_f(const SelectiveScanParams *p) { TIMED(OP_SCAN_F, real->selective_scan_forward(p)); }
static void w_scan_b(const SelectiveScanParams *p) { TIMED(OP_SCAN_B, real->selective_scan_backward(p)); }
static void w_scan_step(float *o, float *s, const float *u, const float *dr, const float *z,
                        const float *B, const float *C, const float *al, const float *D,
                        const float *db, int dim, int ds) {
    TIMED(OP_SCAN_STEP, real->selective_scan_step(o, s, u, dr, z, B, C, al, D, db, dim, ds));
}
static void w_conv_step(float *o, float *s, const float *x, const float *w, const float *b, int D,
                        int K) { TIMED(OP_CONV_STEP, real->conv1d_silu_step(o, s, x, w, b, D, K)); }
static void w_add(float *o, const float *a, const float *b, size_t n) { TIMED(OP_ADD, real->add(o, a, b, n)); }
static void w_acc(float *d, const float *s, size_t n) { TIMED(OP_ACC, real->accumulate(d, s, n)); }
static void w_copy(void *d, const void *s, size_t n) { TIMED(OP_COPY, real->copy(d, s, n)); }
static void w_ce(float *l, float *dl, const float *lg, const int32_t *t, int N, int V, float s) {
    TIMED(OP_CE, real->crossentropy_forward_backward(l, dl, lg, t, N, V, s));
}
static void w_emb_f(float *o, const int32_t *t, const float *wte, const float *wpe, int B, int T,
                    int C) { TIMED(OP_EMB_F, real->embedding_forward(o, t, wte, wpe, B, T, C)); }
static void w_emb_b(float *dw, float *dp, const float *d, const int32_t *t, int B, int T, int C) {
    TIMED(OP_EMB_B, real->embedding_backward(dw, dp, d, t, B, T, C));
}

static void report(const char *what, double total, int reps) {
    printf("%s: %.2f ms per step\n", what, total / reps * 1e3);
    double sum = 0;
    for (int i = 0; i < OP_COUNT; i++) {
        if (!op_calls[i]) continue;
        sum += op_seconds[i];
        printf("  %-20s %9.3f ms %5.1f%%  (%ld calls)\n", op_names[i], op_seconds[i] / reps * 1e3,
               100.0 * op_seconds[i] / total, op_calls[i] / reps);
    }
    printf("  %-20s %9.3f ms %5.1f%%\n", "(other)", (total - sum) / reps * 1e3,
           100.0 * (total - sum) / total);
    memset(op_seconds, 0, sizeof op_seconds);
    memset(op_calls, 0, sizeof op_calls);
}

int main(int argc, char **argv) {
    cpu_runtime_reexec(argv);
    if (argc > 1 && strcmp(argv[1], "scan") == 0) {
        // The scan alone, one thread, CPU time: mamba-6m's and mamba-60m's layer shapes.
        int reps = argc > 2 ? atoi(argv[2]) : 5;
        omp_set_num_threads(1);
        const int dims[2] = {512, 1280};
        for (int i = 0; i < 2; i++) {
            ScanTiming st;
            if (bench_scan_measure(&st, backend_cpu(), 8, 256, dims[i], 16, 64, reps, 1))
                return tb_report(), 1;
            printf("scan dim %4d: forward %7.2f ms  backward %7.2f ms  (1 thread, CPU time) %g\n",
                   dims[i], st.forward_s * 1e3, st.backward_s * 1e3, st.checksum);
        }
        return 0;
    }
    const char *name = argc > 1 ? argv[1] : "mamba-6m";
    int steps = argc > 2 ? atoi(argv[2]) : 3, threads = argc > 3 ? atoi(argv[3]) : 2;
    omp_set_num_threads(threads);
    use_cpu_time = threads == 1;
    real = backend_cpu();
    Backend timed = *real;
    timed.linear_forward = w_lin_f, timed.linear_backward = w_lin_b;
    timed.rmsnorm_forward = w_rms_f, timed.rmsnorm_backward = w_rms_b;
    timed.silu_forward = w_silu_f, timed.silu_backward = w_silu_b;
    timed.conv1d_forward = w_conv_f, timed.conv1d_backward = w_conv_b;
    timed.selective_scan_forward = w_scan_f, timed.selective_scan_backward = w_scan_b;
    timed.selective_scan_step = w_scan_step, timed.conv1d_silu_step = w_conv_step;
    timed.add = w_add, timed.accumulate = w_acc, timed.copy = w_copy;
    timed.crossentropy_forward_backward = w_ce;
    timed.embedding_forward = w_emb_f, timed.embedding_backward = w_emb_b;

    ModelSpec spec;
    if (model_spec_by_name(&spec, name, 1024)) return tb_report(), 2;
    Model *m = model_create(&spec, &timed);
    if (!m) return tb_report(), 1;
    m->vt->init_weights(m, 1);
    const int B = 8, T = 256;
    if (m->vt->alloc_activations(m, B, T)) return tb_report(), 1;
    int32_t *x = malloc(sizeof(int32_t) * B * T), *y = malloc(sizeof(int32_t) * B * T);
    Rng rng;
    rng_seed(&rng, 7);
    for (int i = 0; i < B * T; i++) x[i] = (int32_t)rng_below(&rng, 1024), y[i] = (int32_t)rng_below(&rng, 1024);
    OptimConfig oc;
    optim_config_default(&oc);
    double total = 0;
    for (int s = 0; steps > 0 && s <= steps; s++) {  // steps = 0: decode only
        if (s == 1) memset(op_seconds, 0, sizeof op_seconds), memset(op_calls, 0, sizeof op_calls);
        double t0 = now();
        model_zero_grad(m);
        m->vt->forward(m, x, y, B, T);
        m->vt->backward(m);
        model_adamw_step(m, &oc, s + 1, 1e-4f);
        if (s >= 1) total += now() - t0;
    }
    printf("%s, %d threads, batch %d x %d, loss %.6f, %s\n", name, threads, B, T, m->loss,
           use_cpu_time ? "CPU time" : "wall-clock time");
    if (steps > 0) report("train", total, steps);

    float *logits = malloc(sizeof(float) * 1024);
    m->vt->alloc_decode(m);
    m->vt->decode_reset(m);
    m->vt->prefill(m, x, 200, logits);
    memset(op_seconds, 0, sizeof op_seconds), memset(op_calls, 0, sizeof op_calls);
    int dsteps = 50;
    double t0 = now();
    for (int s = 0; s < dsteps; s++) m->vt->decode_step(m, x[s], logits);
    report("decode", now() - t0, dsteps);
    free(x), free(y), free(logits);
    model_destroy(m);
    return 0;
}
