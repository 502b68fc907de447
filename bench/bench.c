// bench.c: `tunebench bench`, the speed of one model config on this machine.
//
// Generic over the Model interface, so every architecture is measured the
// same way:
//   training   a full step (zero grads, forward, backward, clip + AdamW) on
//              random tokens at batch B x T; the median of --steps steps after
//              --warmup untimed ones -> tokens/s, and model FLOPs utilisation
//              against the measured sgemm peak
//   prefill    batch 1, a prompt of T tokens through prefill()
//   decode     batch 1, one decode_step() with the context already filled to
//              n_positions - 1 (the slowest step), median of --decode-steps
//   memory     peak resident set size of this model's run, activation bytes
// With --peer SCRIPT it also runs SCRIPT (a PyTorch implementation of the
// same config, given the model's config.json) in the same run, under the
// same thread count, and reports our/their ratios. Prints one JSON document
// (or writes it with --out).
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../models/model.h"
#include "bench_machine.h"
#include "bench_scan.h"
#include "lib/command.h"
#include "lib/common.h"

typedef struct {
    const char *models;
    const char *backend;
    const char *peer;
    const char *peer_models;  // NULL: the peer runs for every model
    const char *out;
    const char *precision;
    int batch, seq, steps, warmup, threads, vocab, decode_steps;
    uint64_t seed;
} BenchArgs;

// Whether name is one of the comma-separated names in list (NULL: all are).
static int name_in_list(const char *name, const char *list) {
    if (!list) return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0) return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

static void bench_usage(FILE *f) {
    fprintf(f,
            "usage: tunebench bench --model NAME[,NAME...] [options]\n"
            "  --model NAMES      configs to measure (gpt2-6m, gpt2-60m, mamba-6m, ...)\n"
            "  --batch B          training batch (default 8)\n"
            "  --seq T            training sequence length and prefill length (default 256)\n"
            "  --steps N          timed training steps (default 10; the median is reported)\n"
            "  --warmup W         untimed training steps first (default 2)\n"
            "  --decode-steps N   timed decode steps (default 20)\n"
            "  --threads N        OpenMP and OpenBLAS threads (default 2)\n"
            "  --vocab V          vocabulary size (default 1024, the tokenizer's)\n"
            "  --backend NAME     cpu (default) or cuda\n"
            "  --precision NAME   the linear layers' GEMMs: fp32 (default), tf32 (cuda), bf16\n"
            "  --peer SCRIPT      also run this PyTorch script on the same config\n"
            "  --peer-models NAMES  run the peer only for these configs (default: all)\n"
            "  --seed S           weights and tokens (default 1)\n"
            "  --out FILE         write the JSON there instead of stdout\n");
}

static int parse_bench_args(BenchArgs *a, int argc, char **argv) {
    *a = (BenchArgs){.backend = BACKEND_DEFAULT_NAME, .precision = PRECISION_DEFAULT_NAME, .batch = 8, .seq = 256, .steps = 10, .warmup = 2,
                     .threads = 2, .vocab = 1024, .decode_steps = 20, .seed = 1};
    const TbOption opts[] = {
        TB_OPT("--model", TB_OPT_STRING, &a->models), TB_OPT("--backend", TB_OPT_STRING, &a->backend),
        TB_OPT("--precision", TB_OPT_STRING, &a->precision),
        TB_OPT("--peer", TB_OPT_STRING, &a->peer), TB_OPT("--peer-models", TB_OPT_STRING, &a->peer_models),
        TB_OPT("--out", TB_OPT_STRING, &a->out), TB_OPT_IN("--batch", TB_OPT_INT, &a->batch, 1, 1e9),
        TB_OPT_IN("--seq", TB_OPT_INT, &a->seq, 2, 1e9), TB_OPT_IN("--steps", TB_OPT_INT, &a->steps, 1, 1e9),
        TB_OPT_IN("--warmup", TB_OPT_INT, &a->warmup, 0, 1e9),
        TB_OPT_IN("--decode-steps", TB_OPT_INT, &a->decode_steps, 1, 1e9),
        TB_OPT_IN("--threads", TB_OPT_INT, &a->threads, 1, 1e9), TB_OPT_IN("--vocab", TB_OPT_INT, &a->vocab, 2, 1e9),
        TB_OPT_IN("--seed", TB_OPT_U64, &a->seed, 0, 1e9)};
    int rc = tb_parse_options("bench", argc, argv, opts, TB_OPTIONS(opts));
    if (rc) return rc;
    if (!a->models) return tb_error("bench: --model is required (e.g. --model gpt2-6m)");
    for (const char *p = a->peer_models; p && *p;) {  // each of them must be measured
        char name[64];
        size_t len = strcspn(p, ",");
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), p);
        if (!name_in_list(name, a->models))
            return tb_error("bench: --peer-models names '%s', which is not in --model %s", name, a->models);
        p += len + (p[len] == ',');
    }
    return 0;
}

// ---------------------------------------------------------------- memory

// The kernel keeps the peak RSS (VmHWM); writing 5 to clear_refs resets it,
// so each model's peak is its own.
static void reset_peak_rss(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) fputs("5", f), fclose(f);
}

static long long peak_rss_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) break;
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

// ---------------------------------------------------------------- FLOPs and limits

// Model FLOPs per trained token (forward + backward): the architecture's
// own accounting (its ModelArch), stated in the JSON with its formula.
static double model_flops_per_token(const Model *m, int T, char *formula, size_t len) {
    return m->arch->flops_per_token(&m->spec, m->params.num_params, T, formula, len);
}

// This machine's limits (bench_machine.h), measured in the same run on
// the same thread count; NULL (and a warning) if the measurement failed.
static cJSON *bench_machine_json(int threads) {
    MachineLimits ml;
    fprintf(stderr, "bench: measuring the machine's sgemm peak and read bandwidth\n");
    if (machine_limits_measure(&ml, threads)) {
        fprintf(stderr, "bench: warning: %s\n", tb_last_error());
        return NULL;
    }
    return machine_limits_json(&ml);
}

static double json_number(const cJSON *o, const char *a, const char *b) {
    const cJSON *x = cJSON_GetObjectItem(o, a);
    if (b) x = cJSON_GetObjectItem(x, b);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

// Distances to the machine's limits: MFU against the sgemm peak, and decode
// against streaming every weight once from memory.
static void bench_add_limits(cJSON *o, const cJSON *machine) {
    if (!machine) return;
    double peak = json_number(machine, "sgemm_peak_gflops", NULL);
    double bw = json_number(machine, "dram_read_gb_per_s", NULL);
    double gflops = json_number(o, "train", "model_gflops_per_s");
    double decode_ms = json_number(o, "inference", "decode_ms_per_token_median");
    double bytes = json_number(o, "param_bytes", NULL);
    cJSON *lim = cJSON_AddObjectToObject(o, "vs_machine");
    if (isfinite(peak) && peak > 0) cJSON_AddNumberToObject(lim, "mfu_vs_sgemm_peak", gflops / peak);
    if (isfinite(bw) && bw > 0) {
        double limit_ms = bytes / (bw * 1e9) * 1e3;
        cJSON_AddNumberToObject(lim, "decode_weight_stream_limit_ms", limit_ms);
        cJSON_AddNumberToObject(lim, "decode_ms_over_limit", decode_ms / limit_ms);
    }
    double paired = json_number(cJSON_GetObjectItem(o, "inference"), "decode_paired_with_bandwidth",
                                "decode_ms_over_limit_median");
    double mfu_paired = json_number(cJSON_GetObjectItem(o, "train"), "mfu_paired", "mfu_median");
    if (isfinite(mfu_paired))  // against the sgemm rate of the same moments
        cJSON_AddNumberToObject(lim, "mfu_vs_sgemm_paired", mfu_paired);
    if (isfinite(paired))  // the same ratio, against the bandwidth of the same moments
        cJSON_AddNumberToObject(lim, "decode_ms_over_limit_paired", paired);
}

// ---------------------------------------------------------------- one model

static void random_tokens(int32_t *x, size_t n, int V, Rng *rng) {
    for (size_t i = 0; i < n; i++) x[i] = (int32_t)rng_below(rng, (uint32_t)V);
}

static cJSON *json_array_of(const double *x, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(x[i]));
    return a;
}

// Decode against the memory bandwidth of the same moments. This host's read
// bandwidth moves by 20-40% from one minute to the next (other tenants), so
// a decode median over the bandwidth measured minutes earlier says as much
// about the neighbours as about the code. Each round reads the DRAM probe
// once (a bandwidth sample, which also evicts the weights), runs
// DECODE_PAIRED_REWARM untimed steps (which bring the caches back to the
// steady state of back-to-back decoding: mamba-6m's 24 MB of weights took 3-4
// steps to come back to its plain median here, one step left it 1.5x slower),
// then times one step; the ratio to the weight-streaming limit is taken per
// round, and the median reported. Called with the context filled, like the
// plain decode loop above; CPU only (the probe reads host memory).
#define DECODE_PAIRED_REWARM 4
static cJSON *decode_paired_with_bandwidth(const BenchArgs *a, Model *m, int32_t token,
                                           float *logits, size_t probe_bytes) {
    ReadProbe probe;
    if (read_probe_open(&probe, probe_bytes, a->threads)) return NULL;
    const int n = a->decode_steps, pos = m->spec.max_seq_len - 1;
    const double bytes = (double)m->params.num_params * sizeof(float);
    double *ms = tb_malloc((size_t)n * sizeof(double)), *gbs = tb_malloc((size_t)n * sizeof(double));
    double *ratio = tb_malloc((size_t)n * sizeof(double));
    for (int r = 0; r < n; r++) {
        gbs[r] = read_probe_gb_per_s(&probe);
        for (int k = 0; k <= DECODE_PAIRED_REWARM; k++) {
            m->decode_pos = pos;
            double t0 = tb_now_seconds();
            m->vt->decode_step(m, token, logits);
            ms[r] = (tb_now_seconds() - t0) * 1e3;
        }
        ratio[r] = ms[r] / (bytes / (gbs[r] * 1e9) * 1e3);
    }
    read_probe_close(&probe);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "rounds", n);
    cJSON_AddItemToObject(o, "decode_ms", json_array_of(ms, n));
    cJSON_AddItemToObject(o, "dram_read_gb_per_s", json_array_of(gbs, n));
    cJSON_AddItemToObject(o, "decode_ms_over_limit", json_array_of(ratio, n));
    cJSON_AddNumberToObject(o, "decode_ms_median", tb_median(ms, n));
    cJSON_AddNumberToObject(o, "dram_read_gb_per_s_median", tb_median(gbs, n));
    cJSON_AddNumberToObject(o, "decode_ms_over_limit_median", tb_median(ratio, n));
    cJSON_AddNumberToObject(o, "probe_bytes", (double)probe_bytes);
    cJSON_AddStringToObject(o, "method",
                            "per round: one read pass over the DRAM probe (bandwidth sample), 4 "
                            "untimed decode steps, one timed decode step; ratio per round, median");
    free(ms), free(gbs), free(ratio);
    return o;
}

// Measures one config; returns its JSON object or NULL with the error set.
static cJSON *bench_model(const BenchArgs *a, const char *name, const Backend *be,
                          size_t probe_bytes, double *tokens_per_s, double *decode_ms,
                          double *prefill_ms) {
    ModelSpec spec;
    if (model_spec_by_name(&spec, name, a->vocab)) return NULL;
    if (a->seq > spec.max_seq_len) {
        tb_error("bench: --seq %d exceeds %s's context of %d", a->seq, name, spec.max_seq_len);
        return NULL;
    }
    reset_peak_rss();
    Model *m = model_create(&spec, be);
    if (!m) return NULL;
    m->vt->init_weights(m, a->seed);
    if (m->vt->alloc_activations(m, a->batch, a->seq)) {
        model_destroy(m);
        return NULL;
    }
    const int B = a->batch, T = a->seq, BT = B * T;
    int32_t *inputs = tb_malloc((size_t)BT * sizeof(int32_t));
    int32_t *targets = tb_malloc((size_t)BT * sizeof(int32_t));
    Rng rng;
    rng_seed(&rng, a->seed ^ 0x9e3779b97f4a7c15ULL);
    OptimConfig oc;
    optim_config_default(&oc);

    // ---- training steps
    int total = a->warmup + a->steps;
    double *step_s = tb_malloc((size_t)a->steps * sizeof(double));
    // MFU against the sgemm rate of the same moments (CPU): after each timed
    // step, untimed, three 1024^3 products on the models' sgemm path. The
    // sgemm peak measured once at the start moved by 25% between runs
    // minutes apart here, enough to put one model above 100%.
    const int pair_mfu = be->on_host;
    double *sgemm_rate = tb_malloc((size_t)a->steps * sizeof(double));
    SgemmProbe sp = {0};
    if (pair_mfu) sgemm_probe_open(&sp, 1024);
    float last_loss = 0.0f;
    for (int s = 0; s < total; s++) {
        random_tokens(inputs, (size_t)BT, spec.vocab_size, &rng);
        random_tokens(targets, (size_t)BT, spec.vocab_size, &rng);
        be->synchronize();
        double t0 = tb_now_seconds();
        model_zero_grad(m);
        m->vt->forward(m, inputs, targets, B, T);
        m->vt->backward(m);
        model_adamw_step(m, &oc, s + 1, optim_lr_at(&oc, s + 1));
        be->synchronize();
        double dt = tb_now_seconds() - t0;
        if (s >= a->warmup) step_s[s - a->warmup] = dt * 1e3;
        if (s >= a->warmup && pair_mfu) sgemm_rate[s - a->warmup] = sgemm_probe_gflops(&sp, 3);
        last_loss = m->acts->loss;
    }
    double *sorted = tb_malloc((size_t)a->steps * sizeof(double));
    memcpy(sorted, step_s, (size_t)a->steps * sizeof(double));
    double step_ms = tb_median(sorted, a->steps);
    free(sorted);
    *tokens_per_s = BT / (step_ms * 1e-3);
    size_t act_bytes = m->vt->activation_bytes(m);

    // ---- inference at batch 1
    int maxT = spec.max_seq_len;
    if (m->vt->alloc_decode(m)) {
        model_destroy(m);
        return NULL;
    }
    float *logits = tb_malloc((size_t)spec.vocab_size * sizeof(float));
    int prefill_reps = 3;
    double pre[3];
    for (int r = 0; r < prefill_reps; r++) {
        m->vt->decode_reset(m);
        be->synchronize();
        double t0 = tb_now_seconds();
        m->vt->prefill(m, inputs, T, logits);
        be->synchronize();
        pre[r] = (tb_now_seconds() - t0) * 1e3;
    }
    *prefill_ms = tb_median(pre, prefill_reps);
    // Fill the context to maxT - 1, then time the step at the last position
    // repeatedly by rewinding decode_pos (each repeat attends over the full
    // context and rewrites the same cache row).
    int32_t *ctx = tb_malloc((size_t)maxT * sizeof(int32_t));
    random_tokens(ctx, (size_t)maxT, spec.vocab_size, &rng);
    m->vt->decode_reset(m);
    if (maxT > 1) m->vt->prefill(m, ctx, maxT - 1, logits);
    double *dec = tb_malloc((size_t)a->decode_steps * sizeof(double));
    for (int r = 0; r < a->decode_steps + 2; r++) {
        m->decode_pos = maxT - 1;
        be->synchronize();
        double t0 = tb_now_seconds();
        m->vt->decode_step(m, ctx[maxT - 1], logits);
        be->synchronize();
        if (r >= 2) dec[r - 2] = (tb_now_seconds() - t0) * 1e3;
    }
    *decode_ms = tb_median(dec, a->decode_steps);
    // Before the bandwidth probe's array adds to it, and less the sgemm probe's
    // three matrices (all touched), which are the benchmark's, not the model's.
    long long rss = peak_rss_bytes();
    if (pair_mfu && rss > 0) rss -= 3LL * sp.n * sp.n * (long long)sizeof(float);
    cJSON *paired = probe_bytes ? decode_paired_with_bandwidth(a, m, ctx[maxT - 1], logits,
                                                               probe_bytes) : NULL;

    // ---- the record
    char formula[160];
    double flops_tok = model_flops_per_token(m, T, formula, sizeof formula);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", name);
    cJSON_AddStringToObject(o, "arch", spec.arch);
    cJSON_AddItemToObject(o, "config", m->vt->config_json(m));
    cJSON_AddNumberToObject(o, "num_params", (double)m->params.num_params);
    cJSON_AddNumberToObject(o, "param_bytes", (double)m->params.num_params * sizeof(float));
    cJSON *tr = cJSON_AddObjectToObject(o, "train");
    cJSON_AddNumberToObject(tr, "batch", B);
    cJSON_AddNumberToObject(tr, "seq", T);
    cJSON_AddNumberToObject(tr, "warmup_steps", a->warmup);
    cJSON_AddNumberToObject(tr, "timed_steps", a->steps);
    cJSON_AddNumberToObject(tr, "step_ms_median", step_ms);
    cJSON_AddItemToObject(tr, "step_ms", json_array_of(step_s, a->steps));
    cJSON_AddNumberToObject(tr, "tokens_per_s", *tokens_per_s);
    cJSON_AddNumberToObject(tr, "flops_per_token", flops_tok);
    cJSON_AddStringToObject(tr, "flop_formula", formula);
    cJSON_AddNumberToObject(tr, "model_gflops_per_s", flops_tok * *tokens_per_s * 1e-9);
    cJSON_AddNumberToObject(tr, "last_loss", last_loss);
    if (pair_mfu) {
        double *mfu = tb_malloc((size_t)a->steps * sizeof(double));
        for (int i = 0; i < a->steps; i++)
            mfu[i] = flops_tok * BT / (step_s[i] * 1e-3) * 1e-9 / sgemm_rate[i];
        cJSON *pm = cJSON_AddObjectToObject(tr, "mfu_paired");
        cJSON_AddItemToObject(pm, "sgemm_gflops", json_array_of(sgemm_rate, a->steps));
        cJSON_AddItemToObject(pm, "mfu", json_array_of(mfu, a->steps));
        cJSON_AddNumberToObject(pm, "mfu_median", tb_median(mfu, a->steps));
        cJSON_AddNumberToObject(pm, "sgemm_gflops_median", tb_median(sgemm_rate, a->steps));
        cJSON_AddStringToObject(pm, "method",
                                "after each timed step, untimed: the median of three 1024^3 "
                                "products on the models' sgemm path; MFU per step, median");
        free(mfu);
    }
    cJSON *inf = cJSON_AddObjectToObject(o, "inference");
    cJSON_AddNumberToObject(inf, "prefill_tokens", T);
    cJSON_AddNumberToObject(inf, "prefill_ms_median", *prefill_ms);
    cJSON_AddNumberToObject(inf, "decode_context", maxT);
    cJSON_AddNumberToObject(inf, "decode_ms_per_token_median", *decode_ms);
    cJSON_AddItemToObject(inf, "decode_ms", json_array_of(dec, a->decode_steps));
    if (paired) cJSON_AddItemToObject(inf, "decode_paired_with_bandwidth", paired);
    cJSON *mem = cJSON_AddObjectToObject(o, "memory");
    cJSON_AddNumberToObject(mem, "peak_rss_bytes", (double)rss);
    cJSON_AddNumberToObject(mem, "activation_bytes", (double)act_bytes);
    if (m->arch->memory_facts) m->arch->memory_facts(&spec, B, T, mem);
    if (pair_mfu) sgemm_probe_close(&sp);
    free(inputs), free(targets), free(step_s), free(sgemm_rate), free(logits), free(ctx), free(dec);
    model_destroy(m);
    return o;
}

// ---------------------------------------------------------------- the PyTorch peer

// Runs SCRIPT on the model's config.json; returns its parsed JSON or NULL.
#define PEER_MALLOC_ENV "MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736"

// This process's OpenMP wait policy (cpu_runtime_reexec leaves it unset and
// bounds the spin with GOMP_SPINCOUNT unless the user chose); anything but
// the two documented values reads as the runtime's default.
static const char *bench_wait_policy(void) {
    const char *p = getenv("OMP_WAIT_POLICY");
    if (p && strcasecmp(p, "PASSIVE") == 0) return "PASSIVE";
    if (p && strcasecmp(p, "ACTIVE") == 0) return "ACTIVE";
    return "default";
}

static cJSON *run_peer(const BenchArgs *a, const char *name) {
    ModelSpec spec;
    if (model_spec_by_name(&spec, name, a->vocab)) return NULL;
    Model *m = model_create(&spec, backend_cpu());
    if (!m) return NULL;
    cJSON *cfg = m->vt->config_json(m);
    model_destroy(m);
    char cfg_path[256], cmd[2048];
    snprintf(cfg_path, sizeof cfg_path, "/tmp/tunebench-bench-%d-%s.json", (int)getpid(), name);
    int rc = tb_json_write(cfg_path, cfg);
    cJSON_Delete(cfg);
    if (rc) return NULL;
    // The peer runs under our settings and its own best ones:
    // OPENBLAS_CORETYPE: the same OpenBLAS kernels as ours (torch here calls
    //   the system OpenBLAS, which picks its generic kernels on this CPU
    //   unless told; cpu_runtime_reexec set it for this process).
    // OMP_WAIT_POLICY (and GOMP_SPINCOUNT): unset. The peer picks its own per phase, in child
    //   processes (scripts/torch_peer_common.py): training under PASSIVE
    //   (torch's OpenMP threads share the cores with OpenBLAS's pthreads, and
    //   ACTIVE ones spin through every matmul: gpt2-6m's peer took 2.5-3.1 s
    //   a step under ACTIVE against 1.2-1.3 s), inference under PASSIVE and under
    //   the default, keeping the faster.
    // MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_: glibc's malloc otherwise
    //   maps every tensor over 32 MiB afresh and unmaps it on free, so each
    //   step pays the kernel to fault in and zero gigabytes again (the
    //   mamba-6m peer spent more time in the kernel than in user code, and a
    //   step took 2.5x longer at batch 2). The same remedy as the usual
    //   advice to preload jemalloc or tcmalloc, with no new dependency.
    const char *core = getenv("OPENBLAS_CORETYPE");
    char core_env[96] = "";
    if (core && strspn(core, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
                    strlen(core) && strlen(core) < 64)
        snprintf(core_env, sizeof core_env, "OPENBLAS_CORETYPE=%s ", core);
    snprintf(cmd, sizeof cmd,
             "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT %s%s OMP_NUM_THREADS=%d /usr/bin/python3 '%s' --config '%s' "
             "--batch %d --seq %d --steps %d --warmup %d --threads %d --decode-steps %d",
             core_env, PEER_MALLOC_ENV, a->threads, a->peer, cfg_path,
             a->batch, a->seq, a->steps, a->warmup, a->threads, a->decode_steps);
    fprintf(stderr, "bench: running the PyTorch peer for %s\n", name);
    // Under OMP_WAIT_POLICY=ACTIVE our idle OpenMP threads would spin through
    // the peer's whole run and take a core from it: end them first (the next
    // parallel region starts a new team).
    omp_pause_resource_all(omp_pause_hard);
    FILE *p = popen(cmd, "r");
    if (!p) {
        unlink(cfg_path);
        tb_error("bench: cannot run '%s'", cmd);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = tb_malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
        if (!buf) tb_die("out of memory reading the peer's output");
    }
    buf[len] = '\0';
    int status = pclose(p);
    unlink(cfg_path);
    cJSON *out = status == 0 ? cJSON_Parse(buf) : NULL;
    if (!out) tb_error("bench: the PyTorch peer %s failed (exit %d) or printed no JSON", a->peer, status);
    free(buf);
    return out;
}

// ---------------------------------------------------------------- the command

// Against each variant of a peer that ran several (Mamba's sequential and
// parallel scans), and our peak memory against the peer's.
static void add_peer_variants(cJSON *r, const cJSON *o, const cJSON *peer) {
    double tps = json_number(o, "train", "tokens_per_s");
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(peer, "variants")) {
        double theirs = json_number(v, "train", "tokens_per_s");
        char key[96];
        snprintf(key, sizeof key, "train_tokens_per_s_ratio_vs_%s", v->string);
        if (isfinite(theirs) && theirs > 0) cJSON_AddNumberToObject(r, key, tps / theirs);
    }
    double ours = json_number(o, "memory", "peak_rss_bytes"), pm = json_number(peer, "peak_rss_mb", NULL);
    if (isfinite(ours) && isfinite(pm) && ours > 0 && pm > 0) {
        cJSON_AddNumberToObject(r, "pytorch_peak_rss_bytes", pm * 1024.0 * 1024.0);
        cJSON_AddNumberToObject(r, "peak_rss_ratio_ours_over_pytorch", ours / (pm * 1048576.0));
    }
}

int cmd_bench(int argc, char **argv) {
    BenchArgs a;
    int rc = tb_command_start(parse_bench_args(&a, argc, argv), bench_usage);
    if (rc != TB_COMMAND_GO_ON) return rc;
    const Backend *be = backend_by_name(a.backend);
    if (!be) return tb_exit_runtime();
    be->set_threads(a.threads);
    int precision = precision_by_name(a.precision);
    if (precision < 0 || be->set_precision((Precision)precision)) return tb_exit_runtime();
    // Check every name and length first: a typo should not cost a machine measurement.
    char list[512];
    snprintf(list, sizeof list, "%s", a.models);
    for (char *save = NULL, *name = strtok_r(list, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        ModelSpec spec;
        if (model_spec_by_name(&spec, name, a.vocab)) return tb_exit_runtime();
        if (a.seq > spec.max_seq_len) {
            tb_error("bench: --seq %d exceeds %s's context of %d", a.seq, name, spec.max_seq_len);
            return tb_exit_runtime();
        }
    }

    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "tunebench_version", TB_VERSION);
    cJSON_AddStringToObject(root, "backend", be->name);
    cJSON_AddNumberToObject(root, "threads", a.threads);
    BackendInfo info;
    be->describe(&info);
    cJSON_AddStringToObject(root, "precision", info.precision);
    cJSON_AddStringToObject(root, "backend_device", info.device);
    const char *blas_core = openblas_get_corename();
    cJSON_AddStringToObject(root, "openblas_core", blas_core ? blas_core : "unknown");
    cJSON_AddStringToObject(root, "omp_wait_policy", bench_wait_policy());
    cJSON_AddStringToObject(root, "peer_malloc_env", PEER_MALLOC_ENV);
    cJSON *machine = bench_machine_json(a.threads);
    if (machine) cJSON_AddItemToObject(root, "machine", machine);
    cJSON *models = cJSON_AddArrayToObject(root, "models");

    snprintf(list, sizeof list, "%s", a.models);
    for (char *save = NULL, *name = strtok_r(list, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        fprintf(stderr, "bench: %s\n", name);
        double tps, dec_ms, pre_ms;
        double probe = be->on_host ? json_number(machine, "dram_array_bytes", NULL) : NAN;
        cJSON *o = bench_model(&a, name, be, isfinite(probe) ? (size_t)probe : 0, &tps, &dec_ms,
                               &pre_ms);
        if (!o) {
            tb_report();
            cJSON_Delete(root);
            return 1;
        }
        bench_add_limits(o, machine);
        if (a.peer && !name_in_list(name, a.peer_models)) {
            cJSON_AddStringToObject(o, "peer_error", "not run: not in --peer-models");
        } else if (a.peer) {
            cJSON *peer = run_peer(&a, name);
            if (!peer) {
                tb_report();
                cJSON_AddStringToObject(o, "peer_error", tb_last_error());
            } else {
                cJSON_AddItemToObject(o, "pytorch", peer);
                cJSON *r = cJSON_AddObjectToObject(o, "vs_pytorch");
                // > 1 means tunebench is faster.
                cJSON_AddNumberToObject(r, "train_tokens_per_s_ratio",
                                        tps / json_number(peer, "train", "tokens_per_s"));
                cJSON_AddNumberToObject(r, "prefill_speedup",
                                        json_number(peer, "inference", "prefill_ms_median") / pre_ms);
                cJSON_AddNumberToObject(r, "decode_speedup",
                                        json_number(peer, "inference", "decode_ms_per_token_median") / dec_ms);
                double peak = json_number(machine, "sgemm_peak_gflops", NULL);
                double peer_gflops = json_number(o, "train", "flops_per_token") *
                                     json_number(peer, "train", "tokens_per_s") * 1e-9;
                if (machine && isfinite(peak) && peak > 0)
                    cJSON_AddNumberToObject(r, "pytorch_mfu_vs_sgemm_peak", peer_gflops / peak);
                // A fair comparison runs both on the same OpenBLAS kernels.
                const cJSON *pc = cJSON_GetObjectItem(peer, "openblas_core");
                const char *ours = openblas_get_corename();
                if (cJSON_IsString(pc) && ours)
                    cJSON_AddBoolToObject(r, "same_openblas_core",
                                          strcasecmp(pc->valuestring, ours) == 0);
                add_peer_variants(r, o, peer);
            }
        }
        cJSON_AddItemToArray(models, o);
        // An architecture with a selective scan (its registry entry gives the
        // scan's shapes): the scan's share and bandwidth, memory per token.
        ModelSpec spec;
        SelectiveScanParams shape = {0};
        const ModelArch *arch = model_spec_by_name(&spec, name, a.vocab) ? NULL
                                                                           : model_arch_find(spec.arch);
        int scan_layers = arch && arch->scan_shape ? arch->scan_shape(&spec, a.batch, a.seq, &shape) : 0;
        if (scan_layers > 0 && bench_scan_record(o, name, &shape, scan_layers, be)) tb_report();
    }
    char *text = tb_json_print(root, 1);  // ends with a newline
    cJSON_Delete(root);
    rc = 0;
    if (a.out) {
        char *dir = tb_strdup(a.out), *slash = strrchr(dir, '/');
        if (slash) *slash = '\0', rc = tb_mkdirs(dir);
        free(dir);
        if (!rc) rc = tb_write_file_atomic(a.out, text, strlen(text));
        if (!rc) fprintf(stderr, "bench: wrote %s\n", a.out);
    } else {
        fputs(text, stdout);
    }
    free(text);
    if (rc) tb_report();
    return rc ? 1 : 0;
}
