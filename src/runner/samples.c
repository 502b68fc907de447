// samples.c: see samples.h.
#include "samples.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "../../models/sampler.h"
#include "lib/common.h"

static SamplerConfig sampler_config(const ExperimentConfig *cfg) {
    SamplerConfig sc = {(float)cfg->sample_temperature, cfg->sample_top_k, (float)cfg->sample_top_p};
    return sc;
}

// The prompt's tokens into enc (prompt_len + 1 entries); their count, or
// (size_t)-1 with the error set when they leave no room in the context.
static size_t encode_prompt(const Model *m, const Tokenizer *tok, const ExperimentConfig *cfg, uint16_t *enc) {
    size_t prompt_len = strlen(cfg->sample_prompt);
    size_t n_prompt = tok_encode(tok, cfg->sample_prompt, prompt_len, enc, prompt_len + 1);
    // The end-of-tune token, the prompt and at least one generated token.
    if (n_prompt + 1 >= (size_t)m->spec.max_seq_len) {
        tb_error("%s: key 'samples.prompt': its %zu tokens leave no room in %s's %d-token context; shorten it",
                 config_origin(cfg, "samples.prompt"), n_prompt, m->spec.name, m->spec.max_seq_len);
        return (size_t)-1;
    }
    return n_prompt;
}

int samples_check(const Model *m, const Tokenizer *tok, const ExperimentConfig *cfg) {
    if (cfg->sample_count == 0) return 0;
    SamplerConfig sc = sampler_config(cfg);
    Sampler sampler;
    if (sampler_init(&sampler, &sc, m->spec.vocab_size, 0)) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", tb_last_error());
        const char *key = !(sc.top_p > 0.0f && sc.top_p <= 1.0f) ? "samples.top_p"
                          : sc.top_k < 0                         ? "samples.top_k"
                                                                 : "samples.temperature";
        return tb_error("%s: key '%s': %s (as the 32-bit float the sampler uses)", config_origin(cfg, key), key, msg);
    }
    sampler_free(&sampler);
    uint16_t *enc = tb_malloc(sizeof(uint16_t) * (strlen(cfg->sample_prompt) + 1));
    size_t n = encode_prompt(m, tok, cfg, enc);
    free(enc);
    return n == (size_t)-1 ? -1 : 0;
}

cJSON *samples_generate(Model *m, const Tokenizer *tok, const ExperimentConfig *cfg, const PhaseTick *tick,
                        int *stopped) {
    *stopped = 0;
    const int max_t = m->spec.max_seq_len, V = m->spec.vocab_size;
    const int eot = tok_eot_id(tok);
    size_t prompt_len = strlen(cfg->sample_prompt);
    if (m->vt->alloc_decode(m)) return NULL;
    // ids: the end-of-tune token, the prompt, then the generated tokens.
    int32_t *ids = tb_malloc(sizeof(int32_t) * ((size_t)max_t + prompt_len + 2));
    uint16_t *enc = tb_malloc(sizeof(uint16_t) * (prompt_len + 1));
    size_t n_prompt = encode_prompt(m, tok, cfg, enc);
    if (n_prompt == (size_t)-1) {
        free(ids), free(enc);
        return NULL;
    }
    ids[0] = eot;
    for (size_t i = 0; i < n_prompt; i++) ids[1 + i] = enc[i];
    const int n_context = (int)n_prompt + 1;
    float *logits = tb_malloc(sizeof(float) * (size_t)V);
    size_t text_cap = (size_t)8 * (max_t + 1);
    char *text = tb_malloc(text_cap + 1);
    SamplerConfig sc = sampler_config(cfg);
    cJSON *samples = cJSON_CreateArray();
    for (int s = 0; s < cfg->sample_count; s++) {
        uint64_t seed = (uint64_t)cfg->seed + (uint64_t)s;
        Sampler sampler;
        if (sampler_init(&sampler, &sc, V, seed)) {
            cJSON_Delete(samples);
            samples = NULL;
            break;
        }
        m->vt->decode_reset(m);
        m->vt->prefill(m, ids, n_context, logits);
        int n = n_context;
        const char *ended = "length_cap";
        while (n - n_context < cfg->sample_max_tokens && n < max_t) {
            int32_t next = sampler_sample(&sampler, logits);
            if (next == eot) {
                ended = "end_of_tune";
                break;
            }
            ids[n++] = next;
            if (n < max_t) m->vt->decode_step(m, next, logits);
        }
        sampler_free(&sampler);
        // The text: the prompt and what followed it (the leading end-of-tune
        // token is context, not part of the tune).
        size_t bytes = tok_decode(tok, ids + 1, (size_t)(n - 1), text, text_cap);
        if (bytes != (size_t)-1 && bytes > text_cap) {
            text_cap = bytes;
            text = realloc(text, text_cap + 1);
            if (!text) tb_die("out of memory decoding a sample");
            bytes = tok_decode(tok, ids + 1, (size_t)(n - 1), text, text_cap);
        }
        if (bytes == (size_t)-1) bytes = 0;
        text[bytes] = '\0';
        // The record writer cleans the text to UTF-8 (tb_json_print): a sampled
        // byte-fallback token may not be.
        cJSON *row = cJSON_CreateObject();
        cJSON_AddNumberToObject(row, "seed", (double)seed);
        cJSON_AddStringToObject(row, "prompt", cfg->sample_prompt);
        cJSON_AddNumberToObject(row, "temperature", cfg->sample_temperature);
        cJSON_AddNumberToObject(row, "top_k", cfg->sample_top_k);
        cJSON_AddNumberToObject(row, "top_p", cfg->sample_top_p);
        cJSON_AddNumberToObject(row, "tokens", n - n_context);
        cJSON_AddStringToObject(row, "ended", ended);
        cJSON_AddStringToObject(row, "text", text);
        cJSON_AddItemToArray(samples, row);
        if (tick && tick->tick(tick->ctx, s + 1, cfg->sample_count)) {
            *stopped = 1;
            cJSON_Delete(samples);
            samples = NULL;
            break;
        }
    }
    free(text), free(logits), free(enc), free(ids);
    m->vt->decode_reset(m);
    return samples;
}
