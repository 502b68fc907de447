// sampler.c: temperature, top-k and top-p sampling (see sampler.h).
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sampler_config_default(SamplerConfig *cfg) {
    cfg->temperature = 1.0f;
    cfg->top_k = 0;
    cfg->top_p = 1.0f;
}

int sampler_init(Sampler *s, const SamplerConfig *cfg, int vocab_size, uint64_t seed) {
    memset(s, 0, sizeof *s);
    if (!(cfg->temperature >= 0.0f) || isinf(cfg->temperature))
        return tb_error("sampler: temperature %g must be >= 0 (0 = greedy)", (double)cfg->temperature);
    if (cfg->top_k < 0) return tb_error("sampler: top_k %d must be >= 0 (0 = off)", cfg->top_k);
    if (!(cfg->top_p > 0.0f && cfg->top_p <= 1.0f))
        return tb_error("sampler: top_p %g must be in (0, 1] (1 = off)", (double)cfg->top_p);
    if (vocab_size <= 0) return tb_error("sampler: vocab_size %d must be positive", vocab_size);
    s->cfg = *cfg;
    s->vocab_size = vocab_size;
    rng_seed(&s->rng, seed);
    s->probs = tb_malloc((size_t)vocab_size * sizeof *s->probs);
    s->order = tb_malloc((size_t)vocab_size * sizeof *s->order);
    return 0;
}

void sampler_free(Sampler *s) {
    free(s->probs);
    free(s->order);
    s->probs = NULL;
    s->order = NULL;
}

static int32_t argmax(const float *x, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

// qsort has no context argument; the comparison reads this (one sampler per thread).
static _Thread_local const double *sort_probs;
static int by_prob_desc(const void *a, const void *b) {
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    if (sort_probs[i] != sort_probs[j]) return sort_probs[i] > sort_probs[j] ? -1 : 1;
    return (i > j) - (i < j);  // ties: the lower id first, so the order is total
}

// Fills s->probs with the softmax of logits / T and s->order with the kept
// token ids (most likely first, or all ids in order when nothing is
// filtered). Returns how many are kept and their total probability in *mass.
static int kept_tokens(Sampler *s, const float *logits, double *mass) {
    int V = s->vocab_size;
    double inv_t = 1.0 / (double)s->cfg.temperature;
    float max_logit = logits[argmax(logits, V)];
    double sum = 0.0;
    for (int i = 0; i < V; i++) {
        s->probs[i] = exp(((double)logits[i] - (double)max_logit) * inv_t);
        sum += s->probs[i];
    }
    for (int i = 0; i < V; i++) {
        s->probs[i] /= sum;
        s->order[i] = i;
    }
    int k = V;
    int filter_k = s->cfg.top_k > 0 && s->cfg.top_k < V, filter_p = s->cfg.top_p < 1.0f;
    if (!filter_k && !filter_p) {
        *mass = 1.0;
        return V;
    }
    sort_probs = s->probs;
    qsort(s->order, (size_t)V, sizeof *s->order, by_prob_desc);
    if (filter_k) k = s->cfg.top_k;
    double kept_mass = 0.0;
    for (int i = 0; i < k; i++) kept_mass += s->probs[s->order[i]];
    if (filter_p) {
        // Within the top-k set renormalised: keep the shortest prefix whose
        // probability reaches top_p (always at least one token).
        double target = (double)s->cfg.top_p * kept_mass, cum = 0.0;
        int n = 0;
        while (n < k) {
            cum += s->probs[s->order[n++]];
            if (cum >= target) break;
        }
        k = n;
        kept_mass = cum;
    }
    *mass = kept_mass;
    return k;
}

int32_t sampler_sample(Sampler *s, const float *logits) {
    if (s->cfg.temperature == 0.0f) return argmax(logits, s->vocab_size);
    double mass;
    int k = kept_tokens(s, logits, &mass);
    // 53 random bits, scaled to the kept mass, walked in the kept order.
    double u = (double)(rng_u64(&s->rng) >> 11) * (1.0 / 9007199254740992.0) * mass;
    double cum = 0.0;
    for (int i = 0; i < k; i++) {
        cum += s->probs[s->order[i]];
        if (u < cum) return s->order[i];
    }
    return s->order[k - 1];  // u rounded up to the very end of the mass
}

void sampler_distribution(Sampler *s, const float *logits, float *probs_out) {
    int V = s->vocab_size;
    memset(probs_out, 0, (size_t)V * sizeof *probs_out);
    if (s->cfg.temperature == 0.0f) {
        probs_out[argmax(logits, V)] = 1.0f;
        return;
    }
    double mass;
    int k = kept_tokens(s, logits, &mass);
    for (int i = 0; i < k; i++) probs_out[s->order[i]] = (float)(s->probs[s->order[i]] / mass);
}
