// generate.h: drawing many sequences from a batched decoder, the decoder
// kept full.
//
// The sequences run in a DecodeState of ds->capacity slots. The first ones
// fill the slots and consume their prompts' common length as one forward of
// every slot; after that each decode call feeds every running slot one
// token, each at its own position. A sequence still inside its prompt is fed
// its next prompt token; one past it draws from its logits with its own
// random stream (seeded from its own seed, as a Sampler is), so what it
// draws depends on its own logits alone, not on the others, nor on how many
// run together, nor on which slot it runs in (beyond float rounding in the
// batched GEMMs). A sequence that draws end_token or reaches its cap is done:
// the next waiting sequence takes its slot, from a zero state, and is fed
// its prompt token by token while the others go on (continuous refill), so
// the batch stays full until no sequence waits; then the last running slot
// moves into a finished one's place. Sequences are admitted in their order.
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
    int slot;               // out: the decoder slot it was admitted to
    double seconds;         // out: from the start of the run until it was done
} GenerateSequence;

// Called with each sequence's logits (V) after it has consumed `consumed`
// tokens (its prompt, then what it drew), before it draws from them or is
// fed its next prompt token. For tests and inspection.
typedef void (*GenerateLogitsHook)(void *ctx, int seq, int consumed, const float *logits);

// Where the sequences come from and go to, one at a time, so that only the
// running ones need memory.
typedef struct {
    int count;  // sequences 0..count-1, admitted in this order
    // Fills in prompt, prompt_len, cap, seed and out of sequence seq as it
    // takes a slot: 0, or -1 with the error set.
    int (*admit)(void *ctx, int seq, GenerateSequence *g);
    // Sequence seq is done (its out fields set); its out is no longer
    // written. 0, or -1 with the error set.
    int (*finish)(void *ctx, int seq, const GenerateSequence *g);
    void *ctx;                // admit's and finish's
    GenerateLogitsHook hook;  // may be NULL
    void *hook_ctx;
} GenerateQueue;

// Runs the queue's sequences through ds from a reset state. A model whose
// context bounds it needs prompt_len + cap <= max_seq_len for each. 0, or -1
// with the error set (a bad sampler config, count or sequence, or a callback
// that failed; sequences already finished have been passed to finish).
int generate_run(Model *m, DecodeState *ds, const SamplerConfig *cfg, int32_t end_token,
                 const GenerateQueue *queue);

// generate_run over an array: seqs (count) in, their out fields set.
int generate_batch(Model *m, DecodeState *ds, const SamplerConfig *cfg, int32_t end_token,
                   GenerateSequence *seqs, int count, GenerateLogitsHook hook, void *hook_ctx);

#endif
