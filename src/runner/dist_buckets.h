// dist_buckets.h: which parts of the gradient buffer data-parallel training
// reduces while the backward is still running (src/runner/dist.c).
//
// A backward makes its gradients final from the end of the buffer down: after
// each layer it promises that every gradient at or after some offset is
// final (model_grads_final, models/model.h). The final part not yet sent is
// launched as one bucket once it holds at least min_floats, so a reduction
// runs beside the layers still to come; what is left when the backward ends
// (the embedding, and whatever was too small) is the last bucket. Buckets are
// contiguous, descend through the buffer and cover it exactly once, and the
// same model and min_floats give the same buckets every step on every rank,
// which the collectives need (they must match across ranks).
#ifndef TB_RUNNER_DIST_BUCKETS_H
#define TB_RUNNER_DIST_BUCKETS_H

#include <stddef.h>

// How many buckets a backward aims at: min_floats = ceil(num_params / this).
// More buckets start the reduction earlier but cost a collective each.
#define DIST_BUCKETS_PER_BACKWARD 16
// The most buckets one backward can make with that min_floats (each but the
// last holds at least min_floats): sizes the request arrays.
#define DIST_MAX_BUCKETS (DIST_BUCKETS_PER_BACKWARD + 1)

typedef struct {
    size_t num_params;
    size_t min_floats;  // the smallest bucket launched before the backward ends
    size_t final_from;  // [final_from, num_params) is final in this backward
    size_t sent_from;   // [sent_from, num_params) has been launched
    int launched;       // buckets launched in this backward
} DistBuckets;

// min_floats = ceil(num_params / DIST_BUCKETS_PER_BACKWARD) (at least 1).
void dist_buckets_init(DistBuckets *b, size_t num_params);
// A new backward: nothing final, nothing sent.
void dist_buckets_begin(DistBuckets *b);
// The backward's promise that [from, num_params) is final. Returns 1 with
// the bucket [*lo, *hi) to launch now, or 0 (too little is new). A promise
// that does not extend the final part, or reaches past the buffer, changes
// nothing.
int dist_buckets_final(DistBuckets *b, size_t from, size_t *lo, size_t *hi);
// After the backward, when all of it is final: returns 1 with the last
// bucket [*lo, *hi), or 0 when everything was sent.
int dist_buckets_rest(DistBuckets *b, size_t *lo, size_t *hi);

#endif
