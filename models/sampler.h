// sampler.h: drawing the next token from a model's logits.
//
// Temperature, then top-k, then top-p (nucleus), as Hugging Face's logits
// warpers apply them: the softmax of logits / temperature; the k most likely
// tokens kept; of those, renormalised, the smallest most-likely set whose
// probability reaches top_p kept; then one draw from what is left,
// renormalised. Temperature 0 is greedy (the first maximal logit). The draws
// come from the sampler's own Rng, so a seed fixes the whole sequence.
#ifndef TB_SAMPLER_H
#define TB_SAMPLER_H

#include <stdint.h>

#include "lib/common.h"

typedef struct {
    float temperature;  // 0 = greedy; 1 = the model's distribution
    int top_k;          // keep the k most likely tokens; 0 = all
    float top_p;        // keep the smallest set with this much probability; 1 = all
} SamplerConfig;

typedef struct {
    SamplerConfig cfg;
    int vocab_size;
    Rng rng;
    double *probs;   // (V) scratch
    int32_t *order;  // (V) scratch: token ids, most likely first
} Sampler;

// temperature 1, top_k 0, top_p 1.
void sampler_config_default(SamplerConfig *cfg);
// Validates the config (temperature >= 0, top_k >= 0, 0 < top_p <= 1).
int sampler_init(Sampler *s, const SamplerConfig *cfg, int vocab_size, uint64_t seed);
void sampler_free(Sampler *s);
// The next token for logits (V).
int32_t sampler_sample(Sampler *s, const float *logits);
// The distribution sampler_sample draws from (V floats summing to 1; zeros
// for filtered tokens; a one-hot for greedy). For tests and for inspection.
void sampler_distribution(Sampler *s, const float *logits, float *probs_out);

#endif
