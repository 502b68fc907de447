// measure.h: inference timings for the run record (batch 1).
//
//   prefill:  milliseconds to consume a prompt of 16, 64 and 256 tokens
//             (lengths above the model's context are left out);
//   decode:   milliseconds of one decode_step at positions 1..context, the
//             median over repeats, reported at sampled positions (1, 2, 4, ...,
//             64, then every 32, and the last): the KV cache grows for GPT-2,
//             the recurrent state stays the same size for Mamba;
//   decode tokens/s: context / (sum of the per-position medians), i.e. the
//             rate of generating a whole context from an empty state.
// Each measurement is preceded by one untimed pass (page faults, caches).
#ifndef TB_RUNNER_MEASURE_H
#define TB_RUNNER_MEASURE_H

#include <stdint.h>

#include "../../models/model.h"
#include "progress.h"

typedef struct cJSON cJSON;

// The passes measure_inference makes (each repeat of each prefill length and
// of the decode sweep, untimed ones included): the total it gives tick.
int measure_passes(const Model *m, int repeats);
// tokens: at least m->spec.max_seq_len real tokens (e.g. from the validation
// split). Returns the record's "inference" object, or NULL with the error set.
// tick (may be NULL) runs after every pass; when it asks to stop, the result
// is NULL, *stopped is 1 and no error is set.
cJSON *measure_inference(Model *m, const int32_t *tokens, int repeats, const PhaseTick *tick, int *stopped);

#endif
