// bench_cuda.c: training, prefill and decode speed of every study model on the
// CUDA backend -> JSON (`make bench-gpu`, results/bench/cuda.json).
//
// Per model:
// - tokens/s of a full training step (forward, backward, AdamW; median over
//   timed steps after warm-up, host wall clock around synchronisations), and
//   MFU against the device's peak for the precision (fp32 FMA lanes, TF32 or
//   bf16 dense tensor cores); every model once per precision of --precision
//   (default fp32, tf32 and bf16: kernels/precisions.def);
// - the same steps split into forward (with zero_grad), backward and
//   optimizer by CUDA events on the backend's stream;
// - the scan's and the GEMMs' share of a step, from separate profiled steps
//   that record an event before every backend op (backend_cuda_profiled);
//   the plain steps above carry only four events each;
// - what one training step, one prefill and one decode step ask of the GPU:
//   kernel launches, cuBLAS GEMMs, copies by direction, fills, graph launches
//   and backend op calls (backend_cuda_counters);
// - the latency of a 255-token prefill, and the per-token latency of
//   decode_step (logits copied to the host each step, as generation does)
//   with the decode step replayed as a CUDA graph (the default) and without
//   (TUNEBENCH_DECODE_GRAPHS=0, on a fresh model: a model reads the switch
//   at its first decode step).
//
// FLOPs per trained token: each architecture's own accounting (its
// ModelArch's flops_per_token, the same as `tunebench bench`), stated with
// its formula in the JSON.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/backend_cuda.h"
#include "models/model.h"
#include "lib/common.h"

enum {
    WARMUP_STEPS = 3,     // before the timed steps (the first allocates AdamW's moments)
    PROFILED_STEPS = 3,   // after them, one event per op
    PREFILL_TOKENS = 255, // a full context but one, so a decode step could follow
    PREFILL_REPEATS = 5,  // after one warm-up prefill
    DECODE_TOKENS = 64,   // the first one (the graph capture) is not in the median
};

// The architecture's own accounting (its ModelArch), as `tunebench bench` uses.
static double flops_per_token(const Model *m, int T, char *formula, size_t cap) {
    return m->arch->flops_per_token(&m->spec, m->params.num_params, T, formula, cap);
}

static cJSON *counters_json(const CudaCounters *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "kernel_launches", (double)c->kernel_launches);
    cJSON_AddNumberToObject(o, "cublas_gemms", (double)c->gemm_calls);
    cJSON_AddNumberToObject(o, "memcpy_h2d", (double)c->memcpy_h2d);
    cJSON_AddNumberToObject(o, "memcpy_d2h", (double)c->memcpy_d2h);
    cJSON_AddNumberToObject(o, "memcpy_d2d", (double)c->memcpy_d2d);
    cJSON_AddNumberToObject(o, "memsets", (double)c->memsets);
    cJSON_AddNumberToObject(o, "graph_launches", (double)c->graph_launches);
    cJSON_AddNumberToObject(o, "backend_calls", (double)c->backend_calls);
    return o;
}

static int same_counters(const CudaCounters *a, const CudaCounters *b) {
    return !memcmp(a, b, sizeof *a);
}

static Model *new_model(const char *name, const Backend *be, int vocab) {
    ModelSpec spec;
    if (model_spec_by_name(&spec, name, vocab)) return NULL;
    Model *m = model_create(&spec, be);
    if (m) m->vt->init_weights(m, 1);
    return m;
}

// ---------------------------------------------------------------- training

typedef struct {
    const int32_t *inputs, *targets;
    int B, T;
    OptimConfig oc;
} Batch;

// One training step; marks[0..3] (if given) before it, after the forward,
// after the backward and after AdamW.
static void train_step(Model *m, const Batch *b, int step, int *marks) {
    if (marks) marks[0] = backend_cuda_mark();
    model_zero_grad(m);
    m->vt->forward(m, b->inputs, b->targets, b->B, b->T);
    if (marks) marks[1] = backend_cuda_mark();
    m->vt->backward(m);
    if (marks) marks[2] = backend_cuda_mark();
    model_adamw_step(m, &b->oc, step, 1e-4f);
    if (marks) marks[3] = backend_cuda_mark();
}

typedef struct {
    double step_s;        // host wall clock, median
    double phase_ms[4];   // forward, backward, optimizer, all (events), medians
    CudaCounters counts;  // of the first timed step
    int counts_repeat;    // every timed step counted the same
} TrainTiming;

static void time_training(Model *m, const Batch *b, int steps, TrainTiming *out) {
    double *wall = tb_malloc(sizeof(double) * steps), *phase[4];
    for (int k = 0; k < 4; k++) phase[k] = tb_malloc(sizeof(double) * steps);
    out->counts_repeat = 1;
    for (int step = 1; step <= WARMUP_STEPS + steps; step++) {
        int marks[4], i = step - WARMUP_STEPS - 1;
        m->be->synchronize();
        backend_cuda_marks_clear();
        backend_cuda_counters_reset();
        double t0 = tb_now_seconds();
        train_step(m, b, step, marks);
        CudaCounters c;
        backend_cuda_counters(&c);  // before the synchronize, which is a backend call
        m->be->synchronize();
        if (i < 0) continue;
        wall[i] = tb_now_seconds() - t0;
        for (int k = 0; k < 3; k++) phase[k][i] = backend_cuda_elapsed_ms(marks[k], marks[k + 1]);
        phase[3][i] = backend_cuda_elapsed_ms(marks[0], marks[3]);
        if (i == 0) out->counts = c;
        else if (!same_counters(&c, &out->counts)) out->counts_repeat = 0;
    }
    out->step_s = tb_median(wall, steps);
    for (int k = 0; k < 4; k++) out->phase_ms[k] = tb_median(phase[k], steps), free(phase[k]);
    free(wall);
}

// Profiled steps: medians over them of the step, of each class and of each
// op (the ops come in the same order every step).
static cJSON *profile_training(Model *m, const Batch *b, int first_step) {
    CudaOpProfile *p = tb_malloc(sizeof(CudaOpProfile) * PROFILED_STEPS);
    for (int s = 0; s < PROFILED_STEPS; s++) {
        m->be->synchronize();
        backend_cuda_profile_begin();
        train_step(m, b, first_step + s, NULL);
        backend_cuda_profile_end(&p[s]);
    }
    double v[PROFILED_STEPS], total, class_ms[CUDA_OP_CLASSES];
    for (int s = 0; s < PROFILED_STEPS; s++) v[s] = p[s].total_ms;
    total = tb_median(v, PROFILED_STEPS);
    for (int k = 0; k < CUDA_OP_CLASSES; k++) {
        for (int s = 0; s < PROFILED_STEPS; s++) v[s] = p[s].class_ms[k];
        class_ms[k] = tb_median(v, PROFILED_STEPS);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "steps", PROFILED_STEPS);
    cJSON_AddNumberToObject(o, "step_ms_median", total);
    for (int k = 0; k < CUDA_OP_CLASSES; k++) {
        char key[32];
        snprintf(key, sizeof key, "%s_ms_median", backend_cuda_op_class_name(k));
        cJSON_AddNumberToObject(o, key, class_ms[k]);
    }
    for (int k = 0; k < CUDA_OP_CLASSES; k++) {
        char key[32];
        snprintf(key, sizeof key, "%s_share", backend_cuda_op_class_name(k));
        cJSON_AddNumberToObject(o, key, total > 0 ? class_ms[k] / total : 0.0);
    }
    // Each op's median, largest first.
    int n = p[0].n_ops, order[CUDA_PROFILE_MAX_OPS];
    double op_ms[CUDA_PROFILE_MAX_OPS];
    for (int i = 0; i < n; i++) {
        for (int s = 0; s < PROFILED_STEPS; s++) {
            v[s] = 0.0;
            for (int j = 0; j < p[s].n_ops; j++)
                if (tb_streq(p[s].ops[j].name, p[0].ops[i].name)) v[s] = p[s].ops[j].ms;
        }
        op_ms[i] = tb_median(v, PROFILED_STEPS);
        order[i] = i;
    }
    for (int i = 1; i < n; i++)  // insertion sort by time, descending
        for (int j = i; j > 0 && op_ms[order[j]] > op_ms[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1], order[j - 1] = t;
        }
    cJSON *ops = cJSON_AddArrayToObject(o, "ops");
    for (int r = 0; r < n; r++) {
        const CudaOpTime *t = &p[0].ops[order[r]];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "op", t->name);
        cJSON_AddStringToObject(e, "class", backend_cuda_op_class_name(backend_cuda_op_class(t->name)));
        cJSON_AddNumberToObject(e, "calls", t->calls);
        cJSON_AddNumberToObject(e, "ms_median", op_ms[order[r]]);
        cJSON_AddItemToArray(ops, e);
    }
    free(p);
    return o;
}

// ---------------------------------------------------------------- inference

// A prompt of n tokens from a reset decoder; wall clock (prefill ends by
// copying the logits to the host). Counts of the last repeat.
static cJSON *time_prefill(Model *m, const int32_t *tokens, int n, double *ms_out) {
    float *logits = tb_malloc(sizeof(float) * m->spec.vocab_size);
    double lat[PREFILL_REPEATS];
    CudaCounters c;
    for (int r = -1; r < PREFILL_REPEATS; r++) {
        m->vt->decode_reset(m);
        m->be->synchronize();
        backend_cuda_counters_reset();
        double t0 = tb_now_seconds();
        m->vt->prefill(m, tokens, n, logits);
        if (r >= 0) lat[r] = tb_now_seconds() - t0;
        backend_cuda_counters(&c);
    }
    free(logits);
    *ms_out = tb_median(lat, PREFILL_REPEATS) * 1e3;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "tokens", n);
    cJSON_AddNumberToObject(o, "ms_median", *ms_out);
    cJSON_AddNumberToObject(o, "repeats", PREFILL_REPEATS);
    cJSON_AddItemToObject(o, "counts", counters_json(&c));
    return o;
}

// decode_step after a one-token prompt: the first step (which captures the
// graph where graphs are on) alone, the median of the rest, and the counts
// of the last one.
static cJSON *time_decode(Model *m, const int32_t *tokens, double *ms_out) {
    float *logits = tb_malloc(sizeof(float) * m->spec.vocab_size);
    int n = DECODE_TOKENS < m->spec.max_seq_len - 1 ? DECODE_TOKENS : m->spec.max_seq_len - 1;
    double *lat = tb_malloc(sizeof(double) * n);
    m->vt->decode_reset(m);
    m->vt->prefill(m, tokens, 1, logits);
    CudaCounters c;
    for (int i = 0; i < n; i++) {
        backend_cuda_counters_reset();
        double t0 = tb_now_seconds();
        m->vt->decode_step(m, tokens[1 + i], logits);
        lat[i] = tb_now_seconds() - t0;
        backend_cuda_counters(&c);
    }
    *ms_out = tb_median(lat + 1, n - 1) * 1e3;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "ms_per_token_median", *ms_out);
    cJSON_AddNumberToObject(o, "first_step_ms", lat[0] * 1e3);
    cJSON_AddNumberToObject(o, "timed_tokens", n - 1);
    cJSON_AddBoolToObject(o, "graph_replayed", c.graph_launches > 0);
    cJSON_AddItemToObject(o, "counts_per_token", counters_json(&c));
    free(logits), free(lat);
    return o;
}

// ---------------------------------------------------------------- one model

static cJSON *bench_model(const char *name, const Backend *be, int vocab, int B, int steps,
                          double peak_tflops) {
    setenv("TUNEBENCH_DECODE_GRAPHS", "1", 1);  // read by this model at its first decode step
    Model *m = new_model(name, be, vocab);
    if (!m) return NULL;
    int T = m->spec.max_seq_len;
    if (m->vt->alloc_activations(m, B, T) || m->vt->alloc_decode(m)) return NULL;
    int32_t *inputs = tb_malloc(sizeof(int32_t) * B * T), *targets = tb_malloc(sizeof(int32_t) * B * T);
    Rng rng;
    rng_seed(&rng, 3);
    for (int i = 0; i < B * T; i++) inputs[i] = (int32_t)rng_below(&rng, vocab), targets[i] = (int32_t)rng_below(&rng, vocab);
    Batch batch = {.inputs = inputs, .targets = targets, .B = B, .T = T};
    optim_config_default(&batch.oc);

    TrainTiming tt;
    time_training(m, &batch, steps, &tt);
    cJSON *profile = profile_training(m, &batch, WARMUP_STEPS + steps + 1);
    double tok_s = B * T / tt.step_s;
    char formula[256];
    double flops = flops_per_token(m, T, formula, sizeof formula);
    double mfu = tok_s * flops / (peak_tflops * 1e12);

    double prefill_ms, graph_ms, plain_ms;
    int prefill_n = PREFILL_TOKENS < T - 1 ? PREFILL_TOKENS : T - 1;
    cJSON *prefill = time_prefill(m, inputs, prefill_n, &prefill_ms);
    cJSON *with_graph = time_decode(m, inputs, &graph_ms);

    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", name);
    cJSON_AddNumberToObject(o, "params", (double)m->params.num_params);
    cJSON_AddNumberToObject(o, "batch", B);
    cJSON_AddNumberToObject(o, "seq_len", T);
    cJSON_AddNumberToObject(o, "timed_steps", steps);
    cJSON_AddNumberToObject(o, "step_ms_median", tt.step_s * 1e3);
    cJSON_AddNumberToObject(o, "tokens_per_s", tok_s);
    cJSON_AddNumberToObject(o, "flops_per_token", flops);
    cJSON_AddStringToObject(o, "flops_formula", formula);
    cJSON_AddNumberToObject(o, "mfu", mfu);
    cJSON_AddNumberToObject(o, "decode_ms_per_token_median", graph_ms);
    cJSON_AddNumberToObject(o, "activation_bytes", (double)m->vt->activation_bytes(m));
    cJSON *phases = cJSON_AddObjectToObject(o, "step_events_ms_median");
    cJSON_AddNumberToObject(phases, "forward", tt.phase_ms[0]);
    cJSON_AddNumberToObject(phases, "backward", tt.phase_ms[1]);
    cJSON_AddNumberToObject(phases, "optimizer", tt.phase_ms[2]);
    cJSON_AddNumberToObject(phases, "step", tt.phase_ms[3]);
    cJSON_AddItemToObject(o, "step_profile", profile);
    cJSON_AddItemToObject(o, "step_counts", counters_json(&tt.counts));
    cJSON_AddBoolToObject(o, "step_counts_repeat", tt.counts_repeat);
    cJSON_AddItemToObject(o, "prefill", prefill);
    cJSON *decode = cJSON_AddObjectToObject(o, "decode");
    cJSON_AddItemToObject(decode, "graph", with_graph);
    model_destroy(m);

    // Without graphs: a fresh model, since each reads the switch once.
    setenv("TUNEBENCH_DECODE_GRAPHS", "0", 1);
    Model *plain = new_model(name, be, vocab);
    if (!plain || plain->vt->alloc_decode(plain)) return NULL;
    cJSON_AddItemToObject(decode, "no_graph", time_decode(plain, inputs, &plain_ms));
    cJSON_AddNumberToObject(decode, "graph_speedup", graph_ms > 0 ? plain_ms / graph_ms : 0.0);
    model_destroy(plain);
    unsetenv("TUNEBENCH_DECODE_GRAPHS");

    const cJSON *sh = profile;
    fprintf(stderr,
            "%-10s %8.2f ms/step (fwd %.2f bwd %.2f opt %.2f) %10.0f tok/s  MFU %5.1f%%  scan "
            "%.0f%% gemm %.0f%%  %lld launches  prefill %.2f ms  decode %.3f ms/token (%.3f "
            "without graph)\n",
            name, tt.step_s * 1e3, tt.phase_ms[0], tt.phase_ms[1], tt.phase_ms[2], tok_s,
            100 * mfu, 100 * cJSON_GetObjectItem(sh, "scan_share")->valuedouble,
            100 * cJSON_GetObjectItem(sh, "gemm_share")->valuedouble,
            tt.counts.kernel_launches + tt.counts.gemm_calls, prefill_ms, graph_ms, plain_ms);
    free(inputs), free(targets);
    return o;
}

// What the fields mean, in the file itself.
static void add_definitions(cJSON *root) {
    cJSON *d = cJSON_AddObjectToObject(root, "definitions");
    cJSON_AddStringToObject(d, "step_ms_median",
                            "host wall clock of zero_grad + forward + backward + AdamW between "
                            "device synchronisations, median of timed_steps after warm-up");
    cJSON_AddStringToObject(d, "step_events_ms_median",
                            "the same steps split by CUDA events on the backend's stream: "
                            "forward (with zero_grad), backward, optimizer (grad norm, clip, "
                            "AdamW), and the whole step; medians");
    cJSON_AddStringToObject(d, "step_profile",
                            "separate steps with a CUDA event before every backend op; an op's "
                            "time runs from its event to the next (its kernels and any wait for "
                            "the host). scan = selective_scan_*, gemm = linear_* and "
                            "attention_* (cuBLAS, with attention's softmax), other = the rest");
    cJSON_AddStringToObject(d, "counts",
                            "host-side calls in one step: kernel launches of the project's "
                            "kernels, cuBLAS GEMM calls (one or more kernels each), memory "
                            "copies by direction (h2d and d2h synchronous), memsets, CUDA graph "
                            "launches (the work inside a replayed graph is not counted again), "
                            "backend op calls");
    cJSON_AddStringToObject(d, "prefill",
                            "one batched forward over a prompt from a reset decoder, logits of "
                            "the last token copied to the host; wall clock, median");
    cJSON_AddStringToObject(d, "decode",
                            "decode_step after a one-token prompt, logits copied to the host "
                            "each step; wall clock, median without the first step (the graph "
                            "capture). graph: the step replayed as a CUDA graph (the default); "
                            "no_graph: TUNEBENCH_DECODE_GRAPHS=0. decode_ms_per_token_median is "
                            "the graph figure");
}

static int usage(void) {
    fprintf(stderr, "usage: bench_cuda OUT.json [--vocab V] [--batch B] [--steps N] [--precision fp32,tf32,bf16] "
                    "[--tf32] [--models gpt2-6m,mamba-6m,...] (default: every precision and study config; "
                    "--tf32 is --precision tf32)\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *out_path = NULL;
    char models_arg[256];
    model_study_configs(models_arg, sizeof models_arg);
    int vocab = 1024, batch = 16, steps = 10;
    char precisions_arg[64];
    snprintf(precisions_arg, sizeof precisions_arg, "%s", precision_choices);
    for (char *c = precisions_arg; *c; c++)
        if (*c == '|') *c = ',';
    for (int i = 1; i < argc; i++) {
        if (tb_streq(argv[i], "--vocab") && i + 1 < argc) vocab = atoi(argv[++i]);
        else if (tb_streq(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (tb_streq(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (tb_streq(argv[i], "--tf32")) snprintf(precisions_arg, sizeof precisions_arg, "tf32");
        else if (tb_streq(argv[i], "--precision") && i + 1 < argc)
            snprintf(precisions_arg, sizeof precisions_arg, "%s", argv[++i]);
        else if (tb_streq(argv[i], "--models") && i + 1 < argc)
            snprintf(models_arg, sizeof models_arg, "%s", argv[++i]);
        else if (argv[i][0] != '-' && !out_path) out_path = argv[i];
        else return usage();
    }
    if (!out_path || vocab < 2 || batch < 1 || steps < 1 || !models_arg[0]) return usage();
    const Backend *be = backend_cuda_profiled();  // counts backend calls; profiles on request
    if (!be) {
        tb_report();
        return 1;
    }
    CudaDeviceInfo dev;
    if (backend_cuda_device_info(&dev)) {
        tb_report();
        return 1;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *d = cJSON_AddObjectToObject(root, "device");
    cJSON_AddStringToObject(d, "name", dev.name);
    cJSON_AddNumberToObject(d, "compute_capability", dev.cc_major + 0.1 * dev.cc_minor);
    cJSON_AddNumberToObject(d, "sm_count", dev.sm_count);
    cJSON_AddNumberToObject(d, "clock_ghz", dev.clock_ghz);
    cJSON_AddNumberToObject(d, "peak_fp32_tflops_est", dev.peak_fp32_tflops);
    cJSON_AddNumberToObject(d, "peak_tf32_tflops_est", dev.peak_tf32_tflops);
    cJSON_AddNumberToObject(d, "peak_bf16_tflops_est", dev.peak_bf16_tflops);
    cJSON_AddNumberToObject(d, "mem_bandwidth_gbs_est", dev.mem_bandwidth_gbs);
    cJSON_AddNumberToObject(root, "batch", batch);
    cJSON_AddNumberToObject(root, "vocab_size", vocab);
    add_definitions(root);
    // One entry per precision: its MFU peak and every model measured in it.
    cJSON *runs = cJSON_AddArrayToObject(root, "precisions");
    for (char *psave = NULL, *pname = strtok_r(precisions_arg, ",", &psave); pname;
         pname = strtok_r(NULL, ",", &psave)) {
        int p = precision_by_name(pname);
        if (p < 0 || be->set_precision((Precision)p)) {
            tb_report();
            return 1;
        }
        double peak = p == PRECISION_TF32 ? dev.peak_tf32_tflops
                    : p == PRECISION_BF16 ? dev.peak_bf16_tflops
                                          : dev.peak_fp32_tflops;
        cJSON *run = cJSON_CreateObject();
        cJSON_AddItemToArray(runs, run);
        cJSON_AddStringToObject(run, "precision", precision_names[p]);
        cJSON_AddNumberToObject(run, "mfu_peak_tflops", peak);
        cJSON *models = cJSON_AddArrayToObject(run, "models");
        char names[256];
        snprintf(names, sizeof names, "%s", models_arg);
        for (char *save = NULL, *name = strtok_r(names, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
            fprintf(stderr, "bench_cuda: %s in %s\n", name, precision_names[p]);
            cJSON *o = bench_model(name, be, vocab, batch, steps, peak);
            if (!o) {
                tb_report();
                return 1;
            }
            cJSON_AddItemToArray(models, o);
        }
    }
    char *text = cJSON_Print(root);
    int rc = tb_write_file_atomic(out_path, text, strlen(text));
    free(text);
    cJSON_Delete(root);
    if (rc) {
        tb_report();
        return 1;
    }
    fprintf(stderr, "wrote %s\n", out_path);
    return 0;
}
