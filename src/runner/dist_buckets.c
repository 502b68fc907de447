// dist_buckets.c: see dist_buckets.h. Plain C, in every build, so that the
// tests check the buckets without MPI.
#include "dist_buckets.h"


void dist_buckets_init(DistBuckets *b, size_t num_params) {
    b->num_params = num_params;
    b->min_floats = (num_params + DIST_BUCKETS_PER_BACKWARD - 1) / DIST_BUCKETS_PER_BACKWARD;
    if (b->min_floats == 0) b->min_floats = 1;
    dist_buckets_begin(b);
}

void dist_buckets_begin(DistBuckets *b) {
    b->final_from = b->sent_from = b->num_params;
    b->launched = 0;
}

int dist_buckets_final(DistBuckets *b, size_t from, size_t *lo, size_t *hi) {
    if (from >= b->final_from) return 0;
    b->final_from = from;
    if (b->sent_from - from < b->min_floats) return 0;
    *lo = from, *hi = b->sent_from;
    b->sent_from = from;
    b->launched++;
    return 1;
}

int dist_buckets_rest(DistBuckets *b, size_t *lo, size_t *hi) {
    b->final_from = 0;
    if (b->sent_from == 0) return 0;
    *lo = 0, *hi = b->sent_from;
    b->sent_from = 0;
    b->launched++;
    return 1;
}
