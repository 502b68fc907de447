// generate.c: see generate.h.
#include "generate.h"

#include <stdlib.h>
#include <string.h>

#include "lib/common.h"

static int check_sequences(const Model *m, const DecodeState *ds, const GenerateSequence *seqs,
                           int count) {
    if (count < 1 || count > ds->capacity)
        return tb_error("generate: %d sequences for a decoder of %d", count, ds->capacity);
    for (int q = 0; q < count; q++) {
        const GenerateSequence *g = &seqs[q];
        if (g->prompt_len < 1 || g->cap < 1)
            return tb_error("generate: sequence %d has a prompt of %d tokens and a cap of %d; each "
                            "needs at least one of both", q, g->prompt_len, g->cap);
        if (m->arch->context_bounded && g->prompt_len + g->cap > m->spec.max_seq_len)
            return tb_error("generate: sequence %d's prompt of %d tokens and cap of %d pass %s's "
                            "context of %d", q, g->prompt_len, g->cap, m->spec.name,
                            m->spec.max_seq_len);
    }
    return 0;
}

int generate_batch(Model *m, DecodeState *ds, const SamplerConfig *cfg, int32_t end_token,
                   GenerateSequence *seqs, int count, GenerateLogitsHook hook, void *hook_ctx) {
    const int V = m->spec.vocab_size;
    if (check_sequences(m, ds, seqs, count)) return -1;
    Sampler sampler;
    if (sampler_init(&sampler, cfg, V, 0)) return -1;
    Rng *rngs = tb_malloc((size_t)count * sizeof *rngs);
    int *slot_seq = tb_malloc((size_t)count * sizeof *slot_seq);  // the sequence in each slot
    int *fed = tb_malloc((size_t)count * sizeof *fed);            // tokens each has consumed
    int *done = tb_malloc((size_t)count * sizeof *done);           // by slot
    int32_t *next = tb_malloc((size_t)count * sizeof *next);       // by slot
    float *logits = tb_malloc((size_t)count * V * sizeof *logits); // (slots, V)
    int common = seqs[0].prompt_len;
    for (int q = 1; q < count; q++) common = seqs[q].prompt_len < common ? seqs[q].prompt_len : common;
    int32_t *first = tb_malloc((size_t)count * common * sizeof *first);  // (count, common)
    for (int q = 0; q < count; q++) {
        GenerateSequence *g = &seqs[q];
        rng_seed(&rngs[q], g->seed);
        g->n = 0, g->ended = 0;
        slot_seq[q] = q;
        fed[q] = common;
        memcpy(first + (size_t)q * common, g->prompt, (size_t)common * sizeof *first);
    }

    decode_state_reset(m, ds);
    decode_state_run(m, ds, first, count, common, logits);
    int active = count;
    while (active > 0) {
        for (int s = 0; s < active; s++) {
            const int q = slot_seq[s];
            GenerateSequence *g = &seqs[q];
            const float *row = logits + (size_t)s * V;
            if (hook) hook(hook_ctx, q, fed[q], row);
            done[s] = 0;
            if (fed[q] < g->prompt_len) {  // still inside its prompt
                next[s] = g->prompt[fed[q]];
                continue;
            }
            sampler.rng = rngs[q];
            int32_t tok = sampler_sample(&sampler, row);
            rngs[q] = sampler.rng;
            if (tok == end_token) {
                g->ended = 1, done[s] = 1;
                continue;
            }
            g->out[g->n++] = tok;
            done[s] = g->n >= g->cap;
            next[s] = tok;
        }
        // Drop the finished: from the top, so that the last slot, moved into
        // a finished one's place, is always one still running.
        for (int s = active - 1; s >= 0; s--) {
            if (!done[s]) continue;
            const int last = active - 1;
            if (s != last) {
                decode_state_move(m, ds, s, last);
                slot_seq[s] = slot_seq[last];
                next[s] = next[last];
            }
            active--;
        }
        if (active == 0) break;
        decode_state_run(m, ds, next, active, 1, logits);
        for (int s = 0; s < active; s++) fed[slot_seq[s]]++;
    }
    sampler_free(&sampler);
    free(rngs), free(slot_seq), free(fed), free(done), free(next), free(logits), free(first);
    return 0;
}
