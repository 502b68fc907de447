// profile_mamba.c: where a Mamba training step and a decode step spend their time.
//
//   build/bench/profile_mamba [config] [steps] [threads]   (make profile-mamba)
//   build/bench/profile_mamba decode-batch [config] [B] [threads]
//
// Wraps the CPU backend so that a hook sees every op (kernels/backend_hooks.h)
// and adds its elapsed time to a per-op total, then runs training
// steps at batch 8 x 256 and batch-1 decode steps through the ordinary model
// code. decode-batch times decode steps of B sequences at once (a
// DecodeState, as `tunebench generate --batch B` runs them), after a prefill
// of 32 tokens each. A development tool: the benchmark of record is
// `tunebench bench`.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../kernels/backend_hooks.h"
#include "../kernels/cpu/cpu_ops.h"
#include "../models/model.h"
#include "bench_scan.h"
#include "lib/common.h"

// Per-op totals, by the op's name in Backend. The hook sees each op start;
// the CPU ops are synchronous, so the time from one op's start to the next
// one's is the first op's (plus the model's few instructions between them).
enum { MAX_OPS = 64 };
static const char *op_names[MAX_OPS];
static double op_seconds[MAX_OPS];
static long op_calls[MAX_OPS];
static int op_count, op_open = -1;
static double op_started;
// With one thread, the process's CPU time: on a machine shared with other
// jobs it counts only the time this process ran. With more, wall-clock time.
static int use_cpu_time;
static double now(void) {
    if (!use_cpu_time) return omp_get_wtime();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// Closes the op that is running, if any.
static void close_op(void) {
    if (op_open >= 0) op_seconds[op_open] += now() - op_started;
    op_open = -1;
}

static void time_op(const char *op, void *ctx) {
    (void)ctx;
    close_op();
    int i = 0;
    while (i < op_count && strcmp(op_names[i], op)) i++;
    if (i == op_count) {
        if (op_count == MAX_OPS) tb_die("profile_mamba: more than %d ops", MAX_OPS);
        op_names[op_count++] = op;
    }
    op_calls[i]++;
    op_open = i;
    op_started = now();
}

static void report(const char *what, double total, int reps) {
    printf("%s: %.2f ms per step\n", what, total / reps * 1e3);
    double sum = 0;
    for (int i = 0; i < op_count; i++) {
        if (!op_calls[i]) continue;
        sum += op_seconds[i];
        printf("  %-30s %9.3f ms %5.1f%%  (%ld calls)\n", op_names[i], op_seconds[i] / reps * 1e3,
               100.0 * op_seconds[i] / total, op_calls[i] / reps);
    }
    printf("  %-30s %9.3f ms %5.1f%%\n", "(other)", (total - sum) / reps * 1e3,
           100.0 * (total - sum) / total);
    memset(op_seconds, 0, sizeof op_seconds);
    memset(op_calls, 0, sizeof op_calls);
}

// The named config on the timed CPU backend with `threads` threads (one
// thread: CPU time), initialised; NULL (reported) on an error.
static Model *profiled_model(const char *name, int threads) {
    omp_set_num_threads(threads);
    use_cpu_time = threads == 1;
    const Backend *timed = backend_with_hooks(backend_cpu(), time_op, NULL);
    ModelSpec spec;
    Model *m = model_spec_by_name(&spec, name, 1024) ? NULL : model_create(&spec, timed);
    if (!m) return tb_report(), NULL;
    m->vt->init_weights(m, 1);
    return m;
}

// B sequences' decode steps through a DecodeState, per op.
static int profile_decode_batch(const char *name, int B, int threads) {
    Model *m = profiled_model(name, threads);
    if (!m) return 1;
    DecodeState *ds = decode_state_create(m, B);
    if (!ds) return tb_report(), 1;
    enum { PREFILL = 32, STEPS = 50 };
    int32_t *tokens = malloc(sizeof(int32_t) * B * PREFILL);
    float *logits = malloc(sizeof(float) * B * 1024);
    Rng rng;
    rng_seed(&rng, 7);
    for (int i = 0; i < B * PREFILL; i++) tokens[i] = (int32_t)rng_below(&rng, 1024);
    decode_state_run(m, ds, tokens, B, PREFILL, logits);
    decode_state_run(m, ds, tokens, B, 1, logits);  // warm
    memset(op_seconds, 0, sizeof op_seconds), memset(op_calls, 0, sizeof op_calls);
    double t0 = now();
    for (int s = 0; s < STEPS; s++) decode_state_run(m, ds, tokens + (s % PREFILL) * B, B, 1, logits);
    close_op();
    double total = now() - t0;
    printf("%s, %d threads, %d sequences, %s: %.3f ms per token per sequence\n", name, threads, B,
           use_cpu_time ? "CPU time" : "wall-clock time", total / STEPS / B * 1e3);
    report("decode step", total, STEPS);
    free(tokens), free(logits);
    decode_state_destroy(m, ds);
    model_destroy(m);
    return 0;
}

int main(int argc, char **argv) {
    cpu_runtime_reexec(argv);
    if (argc > 1 && strcmp(argv[1], "decode-batch") == 0)
        return profile_decode_batch(argc > 2 ? argv[2] : "mamba-6m", argc > 3 ? atoi(argv[3]) : 32,
                                    argc > 4 ? atoi(argv[4]) : 2);
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
    Model *m = profiled_model(name, threads);
    if (!m) return 1;
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
        close_op();
        if (s >= 1) total += now() - t0;
    }
    printf("%s, %d threads, batch %d x %d, loss %.6f, %s\n", name, threads, B, T, m->acts->loss,
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
    close_op();
    report("decode", now() - t0, dsteps);
    free(x), free(y), free(logits);
    model_destroy(m);
    return 0;
}
