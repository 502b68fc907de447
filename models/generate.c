// generate.c: see generate.h.
#include "generate.h"

#include <stdlib.h>
#include <string.h>

#include "lib/common.h"

// What a decoder slot holds: its sequence and where that sequence stands.
typedef struct {
    GenerateSequence g;
    Rng rng;    // its random stream, carried between draws
    int seq;    // its index in the queue
    int fed;    // tokens it has consumed
    int done;   // it finished at this step
} Slot;

static int check_sequence(const Model *m, const GenerateSequence *g, int seq) {
    if (g->prompt_len < 1 || g->cap < 1)
        return tb_error("generate: sequence %d has a prompt of %d tokens and a cap of %d; each "
                        "needs at least one of both", seq, g->prompt_len, g->cap);
    if (!g->prompt || !g->out)
        return tb_error("generate: sequence %d has no %s buffer", seq, g->prompt ? "output" : "prompt");
    if (m->arch->context_bounded && g->prompt_len + g->cap > m->spec.max_seq_len)
        return tb_error("generate: sequence %d's prompt of %d tokens and cap of %d pass %s's "
                        "context of %d", seq, g->prompt_len, g->cap, m->spec.name,
                        m->spec.max_seq_len);
    return 0;
}

// Sequence seq from the queue into slot s (whose state the caller resets).
static int admit(const Model *m, const GenerateQueue *queue, Slot *slot, int seq, int s) {
    memset(slot, 0, sizeof *slot);
    if (queue->admit(queue->ctx, seq, &slot->g) || check_sequence(m, &slot->g, seq)) return -1;
    slot->g.n = 0, slot->g.ended = 0, slot->g.slot = s, slot->g.seconds = 0;
    rng_seed(&slot->rng, slot->g.seed);
    slot->seq = seq;
    return 0;
}

// The first `count` slots' prompts up to their common length, from a reset
// state; each slot has then consumed that many tokens.
static void prefill_common(Model *m, DecodeState *ds, Slot *slot, int count, float *logits) {
    int common = slot[0].g.prompt_len;
    for (int s = 1; s < count; s++) common = slot[s].g.prompt_len < common ? slot[s].g.prompt_len : common;
    int32_t *first = tb_malloc((size_t)count * common * sizeof *first);  // (count, common)
    for (int s = 0; s < count; s++) {
        memcpy(first + (size_t)s * common, slot[s].g.prompt, (size_t)common * sizeof *first);
        slot[s].fed = common;
    }
    decode_state_reset(m, ds);
    decode_state_run(m, ds, first, count, common, logits);
    free(first);
}

int generate_run(Model *m, DecodeState *ds, const SamplerConfig *cfg, int32_t end_token,
                 const GenerateQueue *queue) {
    const int V = m->spec.vocab_size, count = queue->count;
    if (count < 1) return tb_error("generate: %d sequences; give at least one", count);
    Sampler sampler;
    if (sampler_init(&sampler, cfg, V, 0)) return -1;
    const int slots = count < ds->capacity ? count : ds->capacity;
    Slot *slot = tb_calloc((size_t)slots, sizeof *slot);
    int32_t *next = tb_malloc((size_t)slots * sizeof *next);       // each slot's next token
    float *logits = tb_malloc((size_t)slots * V * sizeof *logits);  // (slots, V)
    const double t0 = tb_now_seconds();
    int rc = -1, admitted = 0, active = slots;
    for (; admitted < slots; admitted++)
        if (admit(m, queue, &slot[admitted], admitted, admitted)) goto done;
    prefill_common(m, ds, slot, slots, logits);
    while (active > 0) {
        for (int s = 0; s < active; s++) {
            Slot *sl = &slot[s];
            GenerateSequence *g = &sl->g;
            const float *row = logits + (size_t)s * V;
            if (queue->hook) queue->hook(queue->hook_ctx, sl->seq, sl->fed, row);
            sl->done = 0;
            if (sl->fed < g->prompt_len) {  // still inside its prompt
                next[s] = g->prompt[sl->fed];
                continue;
            }
            sampler.rng = sl->rng;
            int32_t tok = sampler_sample(&sampler, row);
            sl->rng = sampler.rng;
            if (tok == end_token) {
                g->ended = 1, sl->done = 1;
                continue;
            }
            g->out[g->n++] = tok;
            sl->done = g->n >= g->cap;
            next[s] = tok;
        }
        // The finished are reported, and the waiting take their slots in slot
        // order, each fed its first prompt token next.
        for (int s = 0; s < active; s++) {
            Slot *sl = &slot[s];
            if (!sl->done) continue;
            sl->g.seconds = tb_now_seconds() - t0;
            if (queue->finish(queue->ctx, sl->seq, &sl->g)) goto done;
            if (admitted == count) continue;
            if (admit(m, queue, sl, admitted++, s)) goto done;
            decode_state_reset_sequence(m, ds, s);
            next[s] = sl->g.prompt[0];
        }
        // With none waiting, drop the finished: from the top, so that the
        // last slot, moved into a finished one's place, is one still running.
        for (int s = active - 1; s >= 0; s--) {
            if (!slot[s].done) continue;
            const int last = active - 1;
            if (s != last) {
                decode_state_move(m, ds, s, last);
                slot[s] = slot[last];
                next[s] = next[last];
            }
            active--;
        }
        if (active == 0) break;
        decode_state_run(m, ds, next, active, 1, logits);
        for (int s = 0; s < active; s++) slot[s].fed++;
    }
    rc = 0;
done:
    sampler_free(&sampler);
    free(slot), free(next), free(logits);
    return rc;
}

// ---------------------------------------------------------------- arrays

static int array_admit(void *ctx, int seq, GenerateSequence *g) {
    *g = ((const GenerateSequence *)ctx)[seq];
    return 0;
}

static int array_finish(void *ctx, int seq, const GenerateSequence *g) {
    ((GenerateSequence *)ctx)[seq] = *g;
    return 0;
}

int generate_batch(Model *m, DecodeState *ds, const SamplerConfig *cfg, int32_t end_token,
                   GenerateSequence *seqs, int count, GenerateLogitsHook hook, void *hook_ctx) {
    GenerateQueue queue = {.count = count, .admit = array_admit, .finish = array_finish,
                           .ctx = seqs, .hook = hook, .hook_ctx = hook_ctx};
    return generate_run(m, ds, cfg, end_token, &queue);
}
