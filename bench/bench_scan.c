// bench_scan.c: what `tunebench bench` adds for an architecture with a
// selective scan (one whose registry entry has scan_shape, as Mamba's): the
// scan alone at a layer's shapes, and memory per token.
//
// The benchmark reports the scan's share of a Mamba training step and the
// bandwidth it achieves. Both come from timing the backend's
// selective_scan_forward and selective_scan_backward on random inputs of one
// layer's shapes (batch, seqlen, d_inner, d_state, chunk), in the same
// process and thread count as the step they are compared with.
//
// Bytes moved, the minimum a fused scan must touch once (fp32):
//   forward   reads u, delta_raw, z (3 per channel) and B, C (2 dstate per
//             step); writes out (1 per channel) and the saved states
//             (selective_scan_saved_floats: dim * dstate per chunk on the CPU,
//             per 16-step tile on CUDA).
//   backward  reads u, delta_raw, z, dout, B, C and the saved states; writes
//             du, ddelta_raw, dz (3 per channel) and dB, dC.
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "bench_scan.h"
#include "lib/common.h"

static void fill_uniform(float *x, size_t n, float lo, float hi, Rng *rng) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng_uniform(rng);
}

static double time_now(int cpu_time) {
    if (!cpu_time) return tb_now_seconds();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int bench_scan_measure(ScanTiming *st, const Backend *be, int batch, int seqlen, int dim,
                       int dstate, int chunk, int reps, int cpu_time) {
    if (batch <= 0 || seqlen <= 0 || dim <= 0 || dstate <= 0 || chunk <= 0 || reps <= 0)
        return tb_error("bench_scan: shapes and repeats must be positive");
    const size_t rows = (size_t)batch * seqlen;
    SelectiveScanParams p = {0};
    p.batch = batch, p.seqlen = seqlen, p.dim = dim, p.dstate = dstate, p.chunk = chunk;
    size_t host_n = rows * dim * 4 + rows * dstate * 2 + (size_t)dim * (dstate + 2);
    float *host = tb_malloc(host_n * sizeof(float));
    Rng rng;
    rng_seed(&rng, 11);
    fill_uniform(host, host_n, -1.0f, 1.0f, &rng);
    for (int d = 0; d < dim; d++)  // A_log as at initialisation: log(n + 1)
        for (int n = 0; n < dstate; n++)
            host[host_n - (size_t)dim * (dstate + 2) + (size_t)d * dstate + n] =
                (float)__builtin_logf((float)(n + 1));
    float *dev = be->alloc(host_n * sizeof(float));
    be->to_device(dev, host, host_n * sizeof(float));
    // The inputs u, delta_raw, z, dout (rows, dim) and B, C (rows, dstate),
    // then A_log (dim, dstate), D and delta_bias (dim), one after another.
    const float **in[] = {&p.u, &p.delta_raw, &p.z, &p.dout, &p.Bmat, &p.Cmat};
    int *in_stride[] = {&p.u_stride, &p.delta_stride, &p.z_stride, &p.dout_stride, &p.B_stride, &p.C_stride};
    float *q = dev;
    for (int k = 0; k < 6; k++) *in[k] = q, *in_stride[k] = k < 4 ? dim : dstate, q += rows * (size_t)*in_stride[k];
    p.A_log = q, q += (size_t)dim * dstate;
    p.D = q, q += dim;
    p.delta_bias = q;
    const size_t saved = be->selective_scan_saved_floats(&p);
    size_t out_n = rows * dim * 4 + rows * dstate * 2 + saved + (size_t)dim * (dstate + 2);
    float *outs = be->alloc(out_n * sizeof(float));
    // Their outputs and gradients in the same shapes, the saved states, then
    // the parameter gradients.
    float **out[] = {&p.out, &p.du, &p.ddelta_raw, &p.dz, &p.dB, &p.dC};
    int *out_stride[] = {&p.out_stride, &p.du_stride, &p.ddelta_stride, &p.dz_stride, &p.dB_stride, &p.dC_stride};
    q = outs;
    for (int k = 0; k < 6; k++) *out[k] = q, *out_stride[k] = k < 4 ? dim : dstate, q += rows * (size_t)*out_stride[k];
    p.chunk_states = q, q += saved;
    p.dA_log = q, q += (size_t)dim * dstate;
    p.dD = q, q += dim;
    p.ddelta_bias = q;
    float *scratch = be->alloc(be->selective_scan_scratch_floats(&p) * sizeof(float));
    p.scratch = scratch;

    double *fw = tb_malloc((size_t)reps * sizeof(double)), *bw = tb_malloc((size_t)reps * sizeof(double));
    for (int r = -1; r < reps; r++) {  // r = -1: untimed warm-up
        be->synchronize();
        double t0 = time_now(cpu_time);
        be->selective_scan_forward(&p);
        be->synchronize();
        double t1 = time_now(cpu_time);
        be->selective_scan_backward(&p);
        be->synchronize();
        double t2 = time_now(cpu_time);
        if (r >= 0) fw[r] = t1 - t0, bw[r] = t2 - t1;
    }
    st->forward_s = tb_median(fw, reps);
    st->backward_s = tb_median(bw, reps);
    const double f = sizeof(float), states = (double)saved;
    st->forward_bytes = f * (rows * dim * 4.0 + rows * dstate * 2.0 + states);
    st->backward_bytes = f * (rows * dim * 7.0 + rows * dstate * 4.0 + states);
    be->to_host(host, outs, sizeof(float));  // keep the work observable
    st->checksum = host[0];
    free(fw), free(bw), free(host);
    be->free(dev), be->free(outs), be->free(scratch);
    return 0;
}

cJSON *bench_scan_json(const ScanTiming *st, int n_layer, double step_s) {
    cJSON *o = cJSON_CreateObject();
    double per_layer = st->forward_s + st->backward_s;
    cJSON_AddStringToObject(o, "method",
                            "selective_scan_forward + backward timed alone at one layer's shapes "
                            "(random inputs, median of repeats), times n_layer, over the "
                            "training step's median");
    cJSON_AddNumberToObject(o, "forward_ms_per_layer", st->forward_s * 1e3);
    cJSON_AddNumberToObject(o, "backward_ms_per_layer", st->backward_s * 1e3);
    cJSON_AddNumberToObject(o, "ms_per_step", per_layer * n_layer * 1e3);
    if (step_s > 0) cJSON_AddNumberToObject(o, "share_of_step", per_layer * n_layer / step_s);
    cJSON_AddNumberToObject(o, "forward_gb_per_s", st->forward_bytes / st->forward_s * 1e-9);
    cJSON_AddNumberToObject(o, "backward_gb_per_s", st->backward_bytes / st->backward_s * 1e-9);
    cJSON_AddStringToObject(o, "bytes_counted",
                            "the minimum a fused scan must move once: its fp32 inputs and "
                            "outputs, B and C, and the states the forward saves");
    return o;
}

// ---------------------------------------------------------------- the record

static double num_at(const cJSON *o, const char *a, const char *b) {
    const cJSON *x = cJSON_GetObjectItem(o, a);
    if (b) x = cJSON_GetObjectItem(x, b);
    return cJSON_IsNumber(x) ? x->valuedouble : -1.0;
}

int bench_scan_record(cJSON *o, const char *name, const SelectiveScanParams *shape, int n_layers,
                      const Backend *be) {
    const int batch = shape->batch, seq = shape->seqlen, di = shape->dim, S = shape->dstate,
              chunk = shape->chunk, L = n_layers;
    const double tokens = (double)batch * seq;

    // The scan alone, wall-clock, on the benchmark's threads.
    ScanTiming st;
    fprintf(stderr, "bench: timing %s's selective scan alone\n", name);
    if (bench_scan_measure(&st, be, batch, seq, di, S, chunk, 5, 0)) return -1;
    double step_ms = num_at(o, "train", "step_ms_median");
    cJSON_AddItemToObject(o, "scan", bench_scan_json(&st, L, step_ms > 0 ? step_ms * 1e-3 : 0));

    // Memory per token: the scan keeps the states the backend saves (one per
    // chunk on the CPU, one per tile on CUDA), not one per step.
    cJSON *mem = cJSON_GetObjectItem(o, "memory");
    double act = num_at(o, "memory", "activation_bytes");
    double chunked = L * (double)be->selective_scan_saved_floats(shape) * 4.0;
    double naive = L * tokens * di * S * 4.0;
    if (mem && act > 0) {
        cJSON_AddNumberToObject(mem, "activation_bytes_per_token", act / tokens);
        cJSON_AddNumberToObject(mem, "scan_state_bytes_per_token_chunked", chunked / tokens);
        cJSON_AddNumberToObject(mem, "scan_state_bytes_per_token_naive", naive / tokens);
        cJSON_AddNumberToObject(mem, "activation_bytes_per_token_if_naive",
                                (act - chunked + naive) / tokens);
        cJSON_AddStringToObject(mem, "per_token_note",
                                "activations (all layers) for the training batch over B*T; "
                                "'naive' keeps every (d_inner, d_state) state for the "
                                "backward instead of the saved ones (per chunk or per tile)");
        cJSON_AddNumberToObject(mem, "scan_chunk", chunk);
    }
    return 0;
}
