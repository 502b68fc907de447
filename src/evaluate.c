// evaluate.c: loss and bits per byte over sequential windows (see evaluate.h).
#include "evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "data/shards.h"
#include "data/tokenizer.h"

// Reads token i of either representation.
typedef struct {
    const uint16_t *u16;
    const int32_t *i32;
} TokenSource;

static int32_t token_at(const TokenSource *src, size_t i) {
    return src->u16 ? (int32_t)src->u16[i] : src->i32[i];
}

static int evaluate(Model *m, const TokenSource *src, size_t n, const int *token_bytes,
                    const EvalOptions *opt, EvalResult *out, float *nats_out, EvalProgressFn on_batch,
                    void *ctx) {
    memset(out, 0, sizeof *out);
    const int B = opt->B, T = opt->T, V = m->spec.vocab_size;
    if (B < 1 || T < 1) return tb_error("evaluate: batch %d x %d must be positive", B, T);
    if (T > m->spec.max_seq_len)
        return tb_error("evaluate: window %d is longer than the model's context %d", T,
                        m->spec.max_seq_len);
    if (n < 2) return tb_error("evaluate: %zu tokens; at least 2 are needed to predict one", n);
    for (size_t i = 0; i < n; i++) {
        int32_t t = token_at(src, i);
        if (t < 0 || t >= V)
            return tb_error("evaluate: token %zu is %d, outside the model's vocabulary 0..%d "
                            "(tokenized with another tokenizer?)", i, (int)t, V - 1);
    }
    if (!m->acts || m->acts->B < B || m->acts->T < T) {
        if (m->vt->alloc_activations(m, B, T) != 0) return -1;
    }
    uint64_t windows = (uint64_t)((n - 1 + (size_t)T - 1) / (size_t)T);
    if (opt->max_windows && opt->max_windows < windows) windows = opt->max_windows;

    int32_t *inputs = tb_malloc((size_t)B * T * sizeof(int32_t));
    int32_t *targets = tb_malloc((size_t)B * T * sizeof(int32_t));
    double t0 = tb_now_seconds(), sum_nats = 0.0, sum_bytes = 0.0;
    uint64_t count = 0;
    for (uint64_t w0 = 0; w0 < windows; w0 += (uint64_t)B) {
        int rows = (int)(windows - w0 < (uint64_t)B ? windows - w0 : (uint64_t)B);
        for (int b = 0; b < rows; b++) {
            size_t start = (size_t)(w0 + (uint64_t)b) * (size_t)T;
            for (int t = 0; t < T; t++) {
                size_t i = start + (size_t)t;
                int real = i + 1 < n;
                inputs[b * T + t] = real ? token_at(src, i) : 0;  // padding: any valid id
                targets[b * T + t] = real ? token_at(src, i + 1) : -1;
            }
        }
        m->vt->forward(m, inputs, targets, rows, T);
        for (int b = 0; b < rows; b++) {
            size_t start = (size_t)(w0 + (uint64_t)b) * (size_t)T;
            for (int t = 0; t < T; t++) {
                int32_t target = targets[b * T + t];
                if (target < 0) continue;
                float nats = m->acts->losses_host[b * T + t];
                sum_nats += nats;
                if (token_bytes) sum_bytes += token_bytes[target];
                if (nats_out) nats_out[start + (size_t)t] = nats;
                count++;
            }
        }
        if (on_batch) on_batch(ctx, w0 + (uint64_t)rows, windows);
    }
    free(inputs);
    free(targets);
    out->seconds = tb_now_seconds() - t0;
    out->windows = windows;
    out->tokens = count;
    out->sum_nats = sum_nats;
    out->sum_bytes = sum_bytes;
    out->loss = count ? sum_nats / (double)count : 0.0;
    out->bpb = sum_bytes > 0 ? sum_nats / (M_LN2 * sum_bytes) : 0.0;
    if (!isfinite(out->loss))
        return tb_error("evaluate: the loss is not finite (%g): the model has diverged",
                        out->loss);
    return 0;
}

int evaluate_tokens(Model *m, const uint16_t *tokens, size_t n, const int *token_bytes,
                    const EvalOptions *opt, EvalResult *out, float *nats_out) {
    TokenSource src = {tokens, NULL};
    return evaluate(m, &src, n, token_bytes, opt, out, nats_out, NULL, NULL);
}

int evaluate_tokens_progress(Model *m, const uint16_t *tokens, size_t n, const int *token_bytes,
                             const EvalOptions *opt, EvalResult *out, EvalProgressFn on_batch, void *ctx) {
    TokenSource src = {tokens, NULL};
    return evaluate(m, &src, n, token_bytes, opt, out, NULL, on_batch, ctx);
}

int evaluate_ids(Model *m, const int32_t *ids, size_t n, const int *token_bytes,
                 const EvalOptions *opt, EvalResult *out, float *nats_out) {
    TokenSource src = {NULL, ids};
    return evaluate(m, &src, n, token_bytes, opt, out, nats_out, NULL, NULL);
}

int evaluate_shard(Model *m, const char *shard_path, const Tokenizer *tok, const EvalOptions *opt,
                   EvalResult *out) {
    ShardHeader h;
    uint16_t *tokens = NULL;
    if (shard_read(shard_path, &h, &tokens) != 0) return -1;
    int V = m->spec.vocab_size, rc = 0;
    if ((int)h.vocab_size != V || tok_vocab_size(tok) != V)
        rc = tb_error("%s: shard vocabulary %u, tokenizer %d and model %d differ (the model was "
                      "trained with another tokenizer?)", shard_path, h.vocab_size,
                      tok_vocab_size(tok), V);
    else if (h.tokenizer_hash != tok_hash(tok))
        rc = tb_error("%s: made by another tokenizer (hash %016llx, this vocabulary %016llx): pass "
                      "the vocabulary the shard was made with", shard_path,
                      (unsigned long long)h.tokenizer_hash, (unsigned long long)tok_hash(tok));
    if (rc == 0) {
        int *bytes = tb_malloc((size_t)V * sizeof(int));
        for (int v = 0; v < V; v++) bytes[v] = tok_token_bytes(tok, v);
        rc = evaluate_tokens(m, tokens, (size_t)h.num_tokens, bytes, opt, out, NULL);
        free(bytes);
    }
    free(tokens);
    return rc;
}
