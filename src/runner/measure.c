// measure.c: see measure.h.
#include "measure.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

#include "lib/common.h"

static int is_reported_position(int pos, int max_t) {
    if (pos == max_t) return 1;
    if (pos <= 64) return (pos & (pos - 1)) == 0;  // powers of two
    return pos % 32 == 0;
}

static const int prefill_lengths[3] = {16, 64, 256};

int measure_passes(const Model *m, int repeats) {
    if (repeats < 1) repeats = 1;
    int lengths = 0;
    for (int i = 0; i < 3; i++) lengths += prefill_lengths[i] <= m->spec.max_seq_len;
    return (lengths + 1) * (repeats + 1);
}

cJSON *measure_inference(Model *m, const int32_t *tokens, int repeats, const PhaseTick *tick, int *stopped) {
    const ModelVtbl *vt = m->vt;
    const Backend *be = m->be;
    int max_t = m->spec.max_seq_len, V = m->spec.vocab_size;
    if (repeats < 1) repeats = 1;
    *stopped = 0;
    const int total = measure_passes(m, repeats);
    int done = 0;
    if (vt->alloc_decode(m) != 0) return NULL;
    float *logits = tb_malloc((size_t)V * sizeof(float));
    cJSON *inf = cJSON_CreateObject();
    cJSON_AddNumberToObject(inf, "repeats", repeats);

    // Prefill: median over repeats, after one untimed pass.
    cJSON *prefill = cJSON_AddArrayToObject(inf, "prefill");
    double *times = tb_malloc(sizeof(double) * (size_t)repeats);
    double *step_ms = tb_malloc(sizeof(double) * (size_t)repeats * (size_t)max_t);
    for (int i = 0; i < 3 && !*stopped; i++) {
        int n = prefill_lengths[i];
        if (n > max_t) continue;
        for (int r = -1; r < repeats && !*stopped; r++) {
            vt->decode_reset(m);
            be->synchronize();
            double t0 = tb_now_seconds();
            vt->prefill(m, tokens, n, logits);
            be->synchronize();
            if (r >= 0) times[r] = 1e3 * (tb_now_seconds() - t0);
            *stopped = tick && tick->tick(tick->ctx, ++done, total);
        }
        if (*stopped) break;
        cJSON *row = cJSON_CreateObject();
        cJSON_AddNumberToObject(row, "tokens", n);
        cJSON_AddNumberToObject(row, "ms", tb_median(times, repeats));
        cJSON_AddItemToArray(prefill, row);
    }

    // Decode: step through the whole context, timing each position.
    // step_ms is (repeats, max_t); the first pass is untimed.
    for (int r = -1; r < repeats && !*stopped; r++) {
        vt->decode_reset(m);
        for (int pos = 0; pos < max_t; pos++) {
            be->synchronize();
            double t0 = tb_now_seconds();
            vt->decode_step(m, tokens[pos], logits);
            be->synchronize();
            if (r >= 0) step_ms[(size_t)r * max_t + pos] = 1e3 * (tb_now_seconds() - t0);
        }
        *stopped = tick && tick->tick(tick->ctx, ++done, total);
    }
    if (*stopped) {
        free(step_ms), free(times), free(logits);
        cJSON_Delete(inf);
        vt->decode_reset(m);
        return NULL;
    }
    cJSON *decode = cJSON_AddArrayToObject(inf, "decode");
    double *medians = tb_malloc(sizeof(double) * (size_t)max_t);
    double total_ms = 0;
    for (int pos = 0; pos < max_t; pos++) {
        for (int r = 0; r < repeats; r++) times[r] = step_ms[(size_t)r * max_t + pos];
        medians[pos] = tb_median(times, repeats);
        total_ms += medians[pos];
        if (is_reported_position(pos + 1, max_t)) {
            cJSON *row = cJSON_CreateObject();
            cJSON_AddNumberToObject(row, "position", pos + 1);
            cJSON_AddNumberToObject(row, "ms", medians[pos]);
            cJSON_AddItemToArray(decode, row);
        }
    }
    cJSON_AddNumberToObject(inf, "decode_tokens_per_s", total_ms > 0 ? 1e3 * max_t / total_ms : 0);
    cJSON_AddNumberToObject(inf, "decode_ms_median", tb_median(medians, max_t));
    free(medians);
    free(step_ms);
    free(times);
    free(logits);
    vt->decode_reset(m);
    return inf;
}
