// evaluate.h: the loss and bits per byte of a model over a token sequence.
//
// The sequence is cut into sequential windows of up to T+1 tokens that start
// T tokens apart, so every token after the first is predicted exactly once,
// from the tokens since its window began (at most T-1 of context). The last
// window is shorter when the count does not divide evenly; its missing
// positions are padding, ignored by the loss. Windows are batched B at a time.
//
//   loss = sum of nats over predicted tokens / number of predicted tokens
//   bpb  = sum of nats / (ln 2 * sum of the byte lengths of predicted tokens)
// where the end-of-tune token counts as 1 byte (the tokenizer's convention).
// The sums run in double, in token order, so the result is reproducible.
#ifndef TB_EVALUATE_H
#define TB_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include "models/model.h"

typedef struct {
    int B;                 // windows per forward (activations must fit B x T)
    int T;                 // window length in predicted tokens, <= max_seq_len
    uint64_t max_windows;  // 0: all; otherwise only the first max_windows
} EvalOptions;

typedef struct {
    double loss;        // mean nats per predicted token
    double bpb;         // bits per byte
    double sum_nats;
    double sum_bytes;
    uint64_t tokens;    // predicted tokens
    uint64_t windows;
    double seconds;     // wall time of the evaluation
} EvalResult;

// tokens (n) as stored in shards; token_bytes (vocab_size) is each token's
// decoded byte length (tok_token_bytes), or NULL to skip bpb (reported as 0).
// nats_out, if not NULL, receives each predicted token's loss: nats_out[i] is
// -log p(tokens[i+1] | context), for i < tokens evaluated.
// The model's activations are (re)allocated when smaller than B x T.
int evaluate_tokens(Model *m, const uint16_t *tokens, size_t n, const int *token_bytes,
                    const EvalOptions *opt, EvalResult *out, float *nats_out);

// The same, calling on_batch(ctx, windows done, windows in all) after each
// batch (the runner's progress line).
typedef void (*EvalProgressFn)(void *ctx, uint64_t windows_done, uint64_t windows_total);
int evaluate_tokens_progress(Model *m, const uint16_t *tokens, size_t n, const int *token_bytes,
                             const EvalOptions *opt, EvalResult *out, EvalProgressFn on_batch, void *ctx);

// The same for int32 ids (as `tunebench score` reads them); ids are checked
// against the vocabulary.
int evaluate_ids(Model *m, const int32_t *ids, size_t n, const int *token_bytes,
                 const EvalOptions *opt, EvalResult *out, float *nats_out);

// A whole token shard (data/shards.h), with the bytes of the given tokenizer.
// The shard must match the model's vocabulary and the tokenizer's hash.
typedef struct Tokenizer Tokenizer;
int evaluate_shard(Model *m, const char *shard_path, const Tokenizer *tok, const EvalOptions *opt,
                   EvalResult *out);

#endif
