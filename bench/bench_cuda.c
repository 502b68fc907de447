// bench_cuda.c: training and decode speed of the four models on the CUDA
// backend -> JSON (`make bench-gpu`, results/bench/cuda.json).
//
// Per model: tokens/s of a full training step (forward, backward, AdamW;
// median over timed steps after warm-up), MFU against the device's fp32 (or
// TF32, with --tf32) peak, and the per-token latency of decode_step (median,
// logits copied to the host each step, as generation does).
//
// FLOPs per trained token: 6 x params for every matmul-shaped weight, plus
// attention's score and mix products for GPT-2 (6 x n_layer x T x d_model,
// causal half of 12 L T C). Mamba's scan adds about 9 x d_inner x d_state x
// n_layer per token forward and backward, which is counted too; the rest
// (norms, convolution, activations) is left out, as usual for MFU.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/backend_cuda.h"
#include "models/model.h"
#include "src/common.h"

static double flops_per_token(const Model *m, int T) {
    const ModelSpec *s = &m->spec;
    double f = 6.0 * (double)m->num_params;
    if (tb_streq(s->arch, "gpt2")) f += 6.0 * s->n_layer * (double)T * s->d_model;
    else f += 9.0 * s->n_layer * (double)s->expand * s->d_model * s->d_state;
    return f;
}

static cJSON *bench_model(const char *name, const Backend *be, int vocab, int B, int steps,
                          double peak_tflops) {
    ModelSpec spec;
    if (model_spec_by_name(&spec, name, vocab)) return NULL;
    Model *m = model_create(&spec, be);
    if (!m) return NULL;
    int T = spec.max_seq_len;
    if (m->vt->alloc_activations(m, B, T)) return NULL;
    m->vt->init_weights(m, 1);
    int32_t *inputs = tb_malloc(sizeof(int32_t) * B * T), *targets = tb_malloc(sizeof(int32_t) * B * T);
    Rng rng;
    rng_seed(&rng, 3);
    for (int i = 0; i < B * T; i++) inputs[i] = (int32_t)rng_below(&rng, vocab), targets[i] = (int32_t)rng_below(&rng, vocab);
    OptimConfig oc;
    optim_config_default(&oc);
    enum { WARMUP = 3 };
    double *times = tb_malloc(sizeof(double) * steps);
    for (int step = 1; step <= WARMUP + steps; step++) {
        be->synchronize();
        double t0 = tb_now_seconds();
        model_zero_grad(m);
        m->vt->forward(m, inputs, targets, B, T);
        m->vt->backward(m);
        model_adamw_step(m, &oc, step, 1e-4f);
        be->synchronize();
        if (step > WARMUP) times[step - WARMUP - 1] = tb_now_seconds() - t0;
    }
    double step_s = tb_median(times, steps);
    double tok_s = B * T / step_s;
    double mfu = tok_s * flops_per_token(m, T) / (peak_tflops * 1e12);

    enum { DECODE_TOKENS = 64 };
    float *logits = tb_malloc(sizeof(float) * vocab);
    double lat[DECODE_TOKENS];
    if (m->vt->alloc_decode(m)) return NULL;
    m->vt->decode_reset(m);
    m->vt->prefill(m, inputs, 1, logits);
    int n_lat = DECODE_TOKENS < T - 1 ? DECODE_TOKENS : T - 1;
    for (int i = 0; i < n_lat; i++) {
        double t0 = tb_now_seconds();
        m->vt->decode_step(m, inputs[1 + i], logits);
        lat[i] = tb_now_seconds() - t0;
    }
    double decode_ms = tb_median(lat, n_lat) * 1e3;

    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", name);
    cJSON_AddNumberToObject(o, "params", (double)m->num_params);
    cJSON_AddNumberToObject(o, "batch", B);
    cJSON_AddNumberToObject(o, "seq_len", T);
    cJSON_AddNumberToObject(o, "timed_steps", steps);
    cJSON_AddNumberToObject(o, "step_ms_median", step_s * 1e3);
    cJSON_AddNumberToObject(o, "tokens_per_s", tok_s);
    cJSON_AddNumberToObject(o, "flops_per_token", flops_per_token(m, T));
    cJSON_AddNumberToObject(o, "mfu", mfu);
    cJSON_AddNumberToObject(o, "decode_ms_per_token_median", decode_ms);
    cJSON_AddNumberToObject(o, "activation_bytes", (double)m->vt->activation_bytes(m));
    fprintf(stderr, "%-10s %8.2f ms/step %10.0f tok/s  MFU %5.1f%%  decode %.3f ms/token\n", name,
            step_s * 1e3, tok_s, 100 * mfu, decode_ms);
    free(inputs), free(targets), free(times), free(logits);
    model_destroy(m);
    return o;
}

int main(int argc, char **argv) {
    const char *out_path = NULL;
    int vocab = 1024, batch = 16, steps = 10, tf32 = 0;
    for (int i = 1; i < argc; i++) {
        if (tb_streq(argv[i], "--vocab") && i + 1 < argc) vocab = atoi(argv[++i]);
        else if (tb_streq(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (tb_streq(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (tb_streq(argv[i], "--tf32")) tf32 = 1;
        else if (argv[i][0] != '-' && !out_path) out_path = argv[i];
        else {
            fprintf(stderr, "usage: bench_cuda OUT.json [--vocab V] [--batch B] [--steps N] [--tf32]\n");
            return 2;
        }
    }
    if (!out_path || vocab < 2 || batch < 1 || steps < 1) {
        fprintf(stderr, "usage: bench_cuda OUT.json [--vocab V] [--batch B] [--steps N] [--tf32]\n");
        return 2;
    }
    const Backend *be = backend_cuda_get();
    if (!be) {
        tb_report();
        return 1;
    }
    backend_cuda_set_tf32(tf32);
    CudaDeviceInfo dev;
    if (backend_cuda_device_info(&dev)) {
        tb_report();
        return 1;
    }
    double peak = tf32 ? dev.peak_tf32_tflops : dev.peak_fp32_tflops;
    cJSON *root = cJSON_CreateObject();
    cJSON *d = cJSON_AddObjectToObject(root, "device");
    cJSON_AddStringToObject(d, "name", dev.name);
    cJSON_AddNumberToObject(d, "compute_capability", dev.cc_major + 0.1 * dev.cc_minor);
    cJSON_AddNumberToObject(d, "sm_count", dev.sm_count);
    cJSON_AddNumberToObject(d, "clock_ghz", dev.clock_ghz);
    cJSON_AddNumberToObject(d, "peak_fp32_tflops_est", dev.peak_fp32_tflops);
    cJSON_AddNumberToObject(d, "peak_tf32_tflops_est", dev.peak_tf32_tflops);
    cJSON_AddNumberToObject(d, "mem_bandwidth_gbs_est", dev.mem_bandwidth_gbs);
    cJSON_AddBoolToObject(root, "tf32", backend_cuda_tf32());
    cJSON_AddNumberToObject(root, "mfu_peak_tflops", peak);
    cJSON_AddNumberToObject(root, "vocab_size", vocab);
    cJSON *models = cJSON_AddArrayToObject(root, "models");
    const char *names[] = {"gpt2-6m", "gpt2-60m", "mamba-6m", "mamba-60m"};
    for (int i = 0; i < 4; i++) {
        cJSON *o = bench_model(names[i], be, vocab, batch, steps, peak);
        if (!o) {
            tb_report();
            return 1;
        }
        cJSON_AddItemToArray(models, o);
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
