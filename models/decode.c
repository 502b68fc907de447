// decode.c: the batched decoder around every architecture (see DecodeState
// in model.h), the batch-1 decoder on top of it, and decode graphs.
//
// An architecture provides three functions: decode_alloc (its buffers for
// capacity x chunk rows and its per-sequence state), decode_load (a call's
// tokens and positions to the backend) and decode_ops (the forward of those
// rows, on fixed buffers). Everything else is the same for all of them and
// lives here: splitting a long call into chunks, the context check, replaying
// one-token calls as a graph, resetting and moving sequences (the state
// tensors are described by the architecture as (layers, capacity, per_seq)
// floats, so that reset is one zero, and move, or one sequence's reset (from
// a block of zeros), one strided copy per tensor).
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "model.h"

// ================================================================ states

DecodeState *decode_state_create(Model *m, int capacity) {
    if (capacity < 1 || capacity > DECODE_MAX_CAPACITY) {
        tb_error("%s '%s': a decoder for %d sequences; it takes 1 to %d", m->spec.arch,
                 m->spec.name, capacity, DECODE_MAX_CAPACITY);
        return NULL;
    }
    DecodeState *ds = tb_calloc(1, sizeof *ds);
    ds->capacity = capacity;
    ds->chunk = m->spec.max_seq_len / capacity > 1 ? m->spec.max_seq_len / capacity : 1;
    ds->pos = tb_calloc((size_t)capacity, sizeof *ds->pos);
    ds->host_tokens = tb_malloc((size_t)capacity * ds->chunk * sizeof *ds->host_tokens);
    if (m->vt->decode_alloc(m, ds) != 0) {
        decode_state_destroy(m, ds);
        return NULL;
    }
    size_t zeros = 0;  // floats: the largest (layers, per_seq) that a sequence's reset zeroes
    for (int k = 0; k < ds->num_state; k++) {
        const DecodeStateTensor *t = &ds->state[k];
        size_t n = (size_t)t->layers * t->per_seq;
        if (!t->per_position && n > zeros) zeros = n;
    }
    if (zeros) ds->zeros = m->be->alloc(zeros * sizeof(float));  // zero-filled
    decode_state_reset(m, ds);
    return ds;
}

void decode_state_destroy(Model *m, DecodeState *ds) {
    if (!ds) return;
    model_decode_graph_release(m, &ds->graph);
    if (ds->arena) m->be->free(ds->arena);
    if (ds->zeros) m->be->free(ds->zeros);
    free(ds->impl);
    free(ds->pos);
    free(ds->host_tokens);
    free(ds);
}

void decode_state_reset(Model *m, DecodeState *ds) {
    for (int k = 0; k < ds->num_state; k++) {
        const DecodeStateTensor *t = &ds->state[k];
        if (t->per_position) continue;  // rows past a position are never read
        m->be->zero(t->base, (size_t)t->layers * ds->capacity * t->per_seq * sizeof(float));
    }
    memset(ds->pos, 0, (size_t)ds->capacity * sizeof *ds->pos);
}

void decode_state_move(Model *m, DecodeState *ds, int dst, int src) {
    if (dst < 0 || dst >= ds->capacity || src < 0 || src >= ds->capacity)
        tb_die("%s '%s': decode_state_move %d -> %d in a decoder of %d sequences", m->spec.arch,
               m->spec.name, src, dst, ds->capacity);
    if (dst == src) return;
    for (int k = 0; k < ds->num_state; k++) {
        const DecodeStateTensor *t = &ds->state[k];
        size_t floats = t->per_position ? (size_t)ds->pos[src] * t->per_position : t->per_seq;
        size_t pitch = (size_t)ds->capacity * t->per_seq * sizeof(float);
        if (floats)
            m->be->copy_2d(t->base + (size_t)dst * t->per_seq, pitch,
                           t->base + (size_t)src * t->per_seq, pitch, floats * sizeof(float),
                           (size_t)t->layers);
    }
    ds->pos[dst] = ds->pos[src];
}

void decode_state_reset_sequence(Model *m, DecodeState *ds, int seq) {
    if (seq < 0 || seq >= ds->capacity)
        tb_die("%s '%s': decode_state_reset_sequence %d in a decoder of %d sequences", m->spec.arch,
               m->spec.name, seq, ds->capacity);
    for (int k = 0; k < ds->num_state; k++) {
        const DecodeStateTensor *t = &ds->state[k];
        if (t->per_position) continue;  // rows past a position are never read
        size_t width = t->per_seq * sizeof(float);
        m->be->copy_2d(t->base + (size_t)seq * t->per_seq, (size_t)ds->capacity * width, ds->zeros,
                       width, width, (size_t)t->layers);
    }
    ds->pos[seq] = 0;
}

// ================================================================ calls

typedef struct {
    DecodeState *ds;
    int B;
} StepCall;

static void run_step_ops(Model *m, void *ctx) {
    StepCall *c = ctx;
    m->vt->decode_ops(m, c->ds, c->B, 1);
}

void decode_state_run(Model *m, DecodeState *ds, const int32_t *tokens, int B, int n,
                      float *logits_host) {
    if (B < 1 || B > ds->capacity)
        tb_die("%s '%s': a decode call for %d sequences in a decoder of %d", m->spec.arch,
               m->spec.name, B, ds->capacity);
    if (n < 1) tb_die("%s '%s': a decode call needs at least one token", m->spec.arch, m->spec.name);
    model_check_tokens(m, tokens, (size_t)B * n, 0, "tokens");
    if (m->arch->context_bounded)
        for (int b = 0; b < B; b++)
            if (ds->pos[b] + n > m->spec.max_seq_len)
                tb_die("%s '%s': the context is full (sequence %d would reach %d positions, "
                       "n_positions %d); reset the decoder or shorten the prompt",
                       m->spec.arch, m->spec.name, b, ds->pos[b] + n, m->spec.max_seq_len);
    for (int start = 0; start < n; start += ds->chunk) {
        const int k = n - start < ds->chunk ? n - start : ds->chunk;
        const int32_t *chunk = tokens + start;
        if (k < n && B > 1) {  // sequence b's tokens start + 0..k-1, gathered to (B, k)
            for (int b = 0; b < B; b++)
                memcpy(ds->host_tokens + (size_t)b * k, tokens + (size_t)b * n + start,
                       (size_t)k * sizeof *tokens);
            chunk = ds->host_tokens;
        }
        m->vt->decode_load(m, ds, chunk, B, k);
        if (k == 1) {
            StepCall call = {ds, B};
            model_decode_graph_run(m, &ds->graph, B, run_step_ops, &call);
        } else {
            m->vt->decode_ops(m, ds, B, k);
        }
        for (int b = 0; b < B; b++) ds->pos[b] += k;
    }
    m->be->to_host(logits_host, ds->logits, (size_t)B * m->spec.vocab_size * sizeof(float));
}

// ================================================================ batch 1

int model_alloc_decode(Model *m) {
    if (!m->decoder) {
        m->decoder = decode_state_create(m, 1);
        if (!m->decoder) return -1;
    }
    m->decode_pos = m->decoder->pos[0];
    return 0;
}

void model_decode_reset(Model *m) {
    if (m->decoder) decode_state_reset(m, m->decoder);
    m->decode_pos = 0;
}

// m->decode_pos is the batch-1 decoder's position: a caller may rewind it
// (a benchmark repeats a step at one position), so each call starts there.
static DecodeState *batch1_decoder(Model *m) {
    if (!m->decoder) tb_die("%s '%s': decoding before alloc_decode", m->spec.arch, m->spec.name);
    m->decoder->pos[0] = m->decode_pos;
    return m->decoder;
}

void model_prefill(Model *m, const int32_t *tokens, int n, float *logits_host) {
    DecodeState *ds = batch1_decoder(m);
    if (n <= 0) tb_die("%s '%s': prefill needs at least one token", m->spec.arch, m->spec.name);
    decode_state_run(m, ds, tokens, 1, n, logits_host);
    m->decode_pos = ds->pos[0];
}

void model_decode_step(Model *m, int32_t token, float *logits_host) {
    DecodeState *ds = batch1_decoder(m);
    decode_state_run(m, ds, &token, 1, 1, logits_host);
    m->decode_pos = ds->pos[0];
}

// ================================================================ graphs

void model_decode_graph_run(Model *m, DecodeGraph *dg, int key,
                            void (*run_ops)(Model *m, void *ctx), void *ctx) {
    const Backend *be = m->be;
    if (!dg->checked_env) {
        const char *env = getenv("TUNEBENCH_DECODE_GRAPHS");
        dg->disabled = env && tb_streq(env, "0");
        dg->checked_env = 1;
    }
    if (!be->graph_launch || dg->disabled) {
        run_ops(m, ctx);
        return;
    }
    if (dg->key != key) {  // another number of sequences: other shapes, another graph
        if (dg->graph) be->graph_destroy(dg->graph);
        dg->graph = NULL, dg->warm = 0, dg->key = key;
    }
    if (dg->graph && be->graph_launch(dg->graph) == 0) return;
    if (dg->graph) {  // stale: the backend's settings changed since the capture
        be->graph_destroy(dg->graph);
        dg->graph = NULL, dg->warm = 0;
    }
    // The first call under the current settings and key runs outside the
    // capture, so that every kernel and library routine it needs is loaded
    // before one is captured (loading inside a capture fails on older drivers).
    if (!dg->warm) {
        run_ops(m, ctx);
        dg->warm = 1;
        return;
    }
    if (be->graph_capture_begin() != 0) {
        dg->disabled = 1;
        run_ops(m, ctx);
        return;
    }
    run_ops(m, ctx);  // recorded, not run
    dg->graph = be->graph_capture_end();
    if (!dg->graph || be->graph_launch(dg->graph) != 0) {
        dg->disabled = 1;  // the backend said why, once
        run_ops(m, ctx);
    }
}

void model_decode_graph_release(Model *m, DecodeGraph *dg) {
    if (dg->graph) m->be->graph_destroy(dg->graph);
    dg->graph = NULL;
}
