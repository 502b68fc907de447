// generate.h: drawing several sequences at once from a batched decoder.
//
// The sequences of one call run together in a DecodeState: their prompts'
// common length as one forward of every sequence, then one token per
// sequence per call, each at its own position. A sequence still inside its
// prompt is fed its next prompt token; one past it draws from its logits with
// its own random stream (seeded from its own seed, as a Sampler is), so what
// it draws depends on its own logits alone, not on the others nor on how
// many run together (beyond float rounding in the batched GEMMs). A sequence
// that draws end_token or reaches its cap is done: it is no longer fed, and
// the last running sequence moves into its place in the state.
#ifndef TB_GENERATE_H
#define TB_GENERATE_H

#include <stdint.h>

#include "model.h"
#include "sampler.h"

typedef struct {
    const int32_t *prompt;  // its first tokens (at least one)
    int prompt_len;
    int cap;                // the most tokens to draw (at least one)
    uint64_t seed;          // its random stream
    int32_t *out;           // (cap) the drawn tokens, end_token left out
    int n;                  // out: how many were drawn
    int ended;              // out: 1 if it drew end_token, 0 if it reached cap
} GenerateSequence;

// Called with each sequence's logits (V) after it has consumed `consumed`
// tokens (its prompt, then what it drew), before it draws from them or is
// fed its next prompt token. For tests and inspection.
typedef void (*GenerateLogitsHook)(void *ctx, int seq, int consumed, const float *logits);

// Runs the count sequences (1..ds->capacity) together from a reset state.
// A model whose context bounds it needs prompt_len + cap <= max_seq_len for
// each. hook may be NULL. 0, or -1 with the error set (a bad sampler config,
// count or sequence).
int generate_batch(Model *m, DecodeState *ds, const SamplerConfig *cfg, int32_t end_token,
                   GenerateSequence *seqs, int count, GenerateLogitsHook hook, void *hook_ctx);

#endif
