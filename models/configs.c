// configs.c: the named model configs, and reading an ecosystem config.json.
//
// Shapes and parameter counts at the music-aware tokenizer's V = 1024
// (embeddings included, the LM head tied to the token embedding):
//
//   config      d_model  n_layer  n_head  max_seq_len          params
//   gpt2-6m         256        7       8          256       5,856,512
//   gpt2-60m        640       12      10          256      59,902,720
//
//   config      d_model  n_layer  d_state d_conv expand dt_rank   params  vs GPT-2
//   mamba-6m        256       13       16      4      2      16   5,956,608  +1.7%
//   mamba-60m       640       23       16      4      2      40  61,169,920  +2.1%
//
// GPT-2:  V*C + T*C + L*(12*C^2 + 13*C) + 2*C
//         (head dim 32 and 64: the sizes GPT-2 itself uses.)
// Mamba:  V*d + d + L*(6*d^2 + 4*d*R + 111*d), d_inner = 2d, R = dt_rank:
//         in_proj 4d^2, conv1d 2d*4 + 2d, x_proj 2d*(R + 32), dt_proj 2d*R + 2d,
//         A_log 2d*16, D 2d, out_proj 2d^2, norm d. Mamba has two blocks per
//         Transformer block (each with half the parameters), hence 13 and 23.
//
//   config      d_model  n_layer   params       vs GPT-2
//   lstm-6m         480        3    6,032,640    +3.0%
//   lstm-60m       1536        3   58,232,832    -2.8%
// LSTM:   V*H + L*(8*H^2 + 8*H), hidden = embedding = H (the head tied):
//         W_ih and W_hh (4H, H) each, bias_ih and bias_hh (4H) each. Three
//         layers, as folk-rnn; H a multiple of 32.
// The tiny configs exist for the tests only.
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "lib/common.h"
#include "model.h"

// Time steps between the selective scan's saved states: the backward
// recomputes inside each chunk, so this trades memory for recomputation.
#define DEFAULT_SCAN_CHUNK 64

static void spec_gpt2(ModelSpec *s, const char *name, int V, int C, int L, int NH, int T) {
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->arch, sizeof s->arch, "gpt2");
    s->vocab_size = V;
    s->d_model = C;
    s->n_layer = L;
    s->n_head = NH;
    s->max_seq_len = T;
}

static void spec_mamba(ModelSpec *s, const char *name, int V, int d, int L, int d_state,
                       int T, int scan_chunk) {
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->arch, sizeof s->arch, "mamba");
    s->vocab_size = V;
    s->d_model = d;
    s->n_layer = L;
    s->d_state = d_state;
    s->d_conv = 4;
    s->expand = 2;
    s->dt_rank = (d + 15) / 16;  // "auto": ceil(d_model / 16)
    snprintf(s->a_init, sizeof s->a_init, "s4d_real");
    s->max_seq_len = T;
    s->scan_chunk = scan_chunk;
}

static void spec_lstm(ModelSpec *s, const char *name, int V, int H, int L, int T) {
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->arch, sizeof s->arch, "lstm");
    s->vocab_size = V;
    s->d_model = H;
    s->n_layer = L;
    s->max_seq_len = T;  // the training length (BPTT truncation) and prefill batch; no limit
}

int model_spec_by_name(ModelSpec *spec, const char *name, int vocab_size) {
    if (vocab_size <= 0) return tb_error("config %s: vocab_size %d must be positive", name, vocab_size);
    if (tb_streq(name, "gpt2-6m")) spec_gpt2(spec, name, vocab_size, 256, 7, 8, 256);
    else if (tb_streq(name, "gpt2-60m")) spec_gpt2(spec, name, vocab_size, 640, 12, 10, 256);
    else if (tb_streq(name, "tiny-gpt2")) spec_gpt2(spec, name, vocab_size, 32, 2, 4, 16);
    else if (tb_streq(name, "mamba-6m")) spec_mamba(spec, name, vocab_size, 256, 13, 16, 256, DEFAULT_SCAN_CHUNK);
    else if (tb_streq(name, "mamba-60m")) spec_mamba(spec, name, vocab_size, 640, 23, 16, 256, DEFAULT_SCAN_CHUNK);
    // tiny-mamba: a chunk of 5 does not divide the test lengths, so the tests
    // cross chunk boundaries mid-sequence.
    else if (tb_streq(name, "tiny-mamba")) spec_mamba(spec, name, vocab_size, 32, 2, 4, 16, 5);
    else if (tb_streq(name, "lstm-6m")) spec_lstm(spec, name, vocab_size, 480, 3, 256);
    else if (tb_streq(name, "lstm-60m")) spec_lstm(spec, name, vocab_size, 1536, 3, 256);
    // tiny-lstm: 24 units are one whole vector and a scalar tail.
    else if (tb_streq(name, "tiny-lstm")) spec_lstm(spec, name, vocab_size, 24, 2, 16);
    else
        return tb_error("unknown model config '%s' (use gpt2-6m, gpt2-60m, mamba-6m, mamba-60m, "
                        "lstm-6m, lstm-60m, tiny-gpt2, tiny-mamba or tiny-lstm)", name);
    return 0;
}

// ---------------------------------------------------------------- config.json

// Reads an integer field; missing is an error unless a default is allowed.
static int get_int(const cJSON *obj, const char *key, int *out, int has_default, int dflt,
                   const char *path) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item)) {
        if (has_default) {
            *out = dflt;
            return 0;
        }
        return tb_error("%s: config field \"%s\" is missing", path, key);
    }
    double v = cJSON_IsNumber(item) ? item->valuedouble : NAN;
    if (!(v >= 1 && v <= 1e9) || floor(v) != v)
        return tb_error("%s: config field \"%s\" must be a positive integer", path, key);
    *out = (int)v;
    return 0;
}

static int spec_gpt2_from_json(ModelSpec *s, const cJSON *c, const char *path) {
    memset(s, 0, sizeof *s);
    snprintf(s->arch, sizeof s->arch, "gpt2");
    if (get_int(c, "vocab_size", &s->vocab_size, 0, 0, path) ||
        get_int(c, "n_positions", &s->max_seq_len, 0, 0, path) ||
        get_int(c, "n_embd", &s->d_model, 0, 0, path) ||
        get_int(c, "n_layer", &s->n_layer, 0, 0, path) ||
        get_int(c, "n_head", &s->n_head, 0, 0, path))
        return -1;
    if (s->d_model % s->n_head != 0)
        return tb_error("%s: n_embd %d is not divisible by n_head %d", path, s->d_model, s->n_head);
    // What tunebench computes is fixed: refuse a config that asks for another model.
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(c, "activation_function");
    if (act && (!cJSON_IsString(act) || !tb_streq(act->valuestring, "gelu_new")))
        return tb_error("%s: activation_function must be \"gelu_new\" (tanh GELU), the only one "
                        "tunebench implements", path);
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(c, "layer_norm_epsilon");
    if (eps && (!cJSON_IsNumber(eps) || fabs(eps->valuedouble - 1e-5) > 1e-12))
        return tb_error("%s: layer_norm_epsilon must be 1e-05, the value tunebench implements",
                        path);
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(c, "tie_word_embeddings");
    if (tie && cJSON_IsFalse(tie))
        return tb_error("%s: tie_word_embeddings is false; tunebench's GPT-2 ties the LM head "
                        "to the token embedding", path);
    return 0;
}

static int spec_mamba_from_json(ModelSpec *s, const cJSON *c, const char *path) {
    memset(s, 0, sizeof *s);
    snprintf(s->arch, sizeof s->arch, "mamba");
    int pad = 1;
    if (get_int(c, "d_model", &s->d_model, 0, 0, path) ||
        get_int(c, "n_layer", &s->n_layer, 0, 0, path) ||
        get_int(c, "vocab_size", &s->vocab_size, 0, 0, path) ||
        get_int(c, "pad_vocab_size_multiple", &pad, 1, 8, path))
        return -1;
    // mamba_ssm pads the embedding to a multiple of pad_vocab_size_multiple;
    // tunebench's tables hold exactly vocab_size rows, so refuse a padding.
    if (s->vocab_size % pad != 0)
        return tb_error("%s: vocab_size %d is not a multiple of pad_vocab_size_multiple %d "
                        "(padded embeddings are not supported)", path, s->vocab_size, pad);
    const cJSON *rms = cJSON_GetObjectItemCaseSensitive(c, "rms_norm");
    if (rms && !cJSON_IsTrue(rms))
        return tb_error("%s: rms_norm must be true (tunebench's Mamba uses RMSNorm)", path);
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(c, "tie_embeddings");
    if (tie && !cJSON_IsTrue(tie))
        return tb_error("%s: tie_embeddings must be true (the LM head is the embedding)", path);
    const cJSON *ssm = cJSON_GetObjectItemCaseSensitive(c, "ssm_cfg");
    if (ssm && !cJSON_IsObject(ssm)) return tb_error("%s: ssm_cfg must be an object", path);
    if (get_int(ssm, "d_state", &s->d_state, 1, 16, path) ||
        get_int(ssm, "d_conv", &s->d_conv, 1, 4, path) ||
        get_int(ssm, "expand", &s->expand, 1, 2, path))
        return -1;
    const cJSON *dt_rank = cJSON_GetObjectItemCaseSensitive(ssm, "dt_rank");
    if (!dt_rank || (cJSON_IsString(dt_rank) && tb_streq(dt_rank->valuestring, "auto")))
        s->dt_rank = (s->d_model + 15) / 16;
    else if (get_int(ssm, "dt_rank", &s->dt_rank, 0, 0, path))
        return -1;
    const cJSON *layer = cJSON_GetObjectItemCaseSensitive(ssm, "layer");
    if (layer && (!cJSON_IsString(layer) || !tb_streq(layer->valuestring, "Mamba1")))
        return tb_error("%s: ssm_cfg.layer must be \"Mamba1\"", path);
    snprintf(s->a_init, sizeof s->a_init, "s4d_real");
    s->scan_chunk = DEFAULT_SCAN_CHUNK;
    s->max_seq_len = 256;  // Mamba has no positional limit; "tunebench" may override it
    return 0;
}

// tunebench's LSTM config (models/lstm.c writes it): one width for the
// embedding and every layer, the head tied, no final norm.
static int spec_lstm_from_json(ModelSpec *s, const cJSON *c, const char *path) {
    memset(s, 0, sizeof *s);
    snprintf(s->arch, sizeof s->arch, "lstm");
    int emb = 0;
    if (get_int(c, "vocab_size", &s->vocab_size, 0, 0, path) ||
        get_int(c, "hidden_size", &s->d_model, 0, 0, path) ||
        get_int(c, "num_layers", &s->n_layer, 0, 0, path) ||
        get_int(c, "embedding_dim", &emb, 1, s->d_model, path))
        return -1;
    if (emb != s->d_model)
        return tb_error("%s: embedding_dim %d differs from hidden_size %d; tunebench's LSTM "
                        "ties its head to the embedding, so the two must be equal", path, emb,
                        s->d_model);
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(c, "tie_word_embeddings");
    if (tie && !cJSON_IsTrue(tie))
        return tb_error("%s: tie_word_embeddings must be true (the LM head is the embedding)",
                        path);
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(c, "final_norm");
    if (norm && !cJSON_IsNull(norm))
        return tb_error("%s: final_norm must be null (tunebench's LSTM has none)", path);
    s->max_seq_len = 256;  // no positional limit; "tunebench" may override it
    return 0;
}

// tunebench's own fields, kept apart from the ecosystem's in a "tunebench"
// object: the config name, and for Mamba what MambaConfig cannot express.
static int apply_tunebench_extras(ModelSpec *s, const cJSON *c, const char *path) {
    const cJSON *tb = cJSON_GetObjectItemCaseSensitive(c, "tunebench");
    snprintf(s->name, sizeof s->name, "%s-custom", s->arch);
    if (!tb) return 0;
    if (!cJSON_IsObject(tb)) return tb_error("%s: \"tunebench\" must be an object", path);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(tb, "name");
    if (cJSON_IsString(name)) snprintf(s->name, sizeof s->name, "%s", name->valuestring);
    if (get_int(tb, "max_seq_len", &s->max_seq_len, 1, s->max_seq_len, path)) return -1;
    if (tb_streq(s->arch, "mamba")) {
        if (get_int(tb, "scan_chunk", &s->scan_chunk, 1, s->scan_chunk, path)) return -1;
        const cJSON *a_init = cJSON_GetObjectItemCaseSensitive(tb, "a_init");
        if (a_init) {
            if (!cJSON_IsString(a_init) || (!tb_streq(a_init->valuestring, "s4d_real") &&
                                            !tb_streq(a_init->valuestring, "constant")))
                return tb_error("%s: tunebench.a_init must be \"s4d_real\" or \"constant\"", path);
            snprintf(s->a_init, sizeof s->a_init, "%s", a_init->valuestring);
        }
    }
    if (tb_streq(s->arch, "gpt2") && s->max_seq_len > 0) {
        // For GPT-2 the context is n_positions: the extras may not contradict it.
        const cJSON *np = cJSON_GetObjectItemCaseSensitive(c, "n_positions");
        if (cJSON_IsNumber(np) && (int)np->valuedouble != s->max_seq_len)
            return tb_error("%s: tunebench.max_seq_len %d differs from n_positions %d", path,
                            s->max_seq_len, (int)np->valuedouble);
    }
    return 0;
}

int model_spec_from_config_json(ModelSpec *spec, const cJSON *config, const char *path) {
    if (!cJSON_IsObject(config)) return tb_error("%s: config is not a JSON object", path);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(config, "model_type");
    int rc;
    if (cJSON_IsString(type) && tb_streq(type->valuestring, "gpt2"))
        rc = spec_gpt2_from_json(spec, config, path);
    else if ((cJSON_IsString(type) && tb_streq(type->valuestring, "mamba")) ||
             (!type && cJSON_GetObjectItemCaseSensitive(config, "d_model")))
        rc = spec_mamba_from_json(spec, config, path);  // mamba_ssm's MambaConfig has no model_type
    else if (cJSON_IsString(type) && tb_streq(type->valuestring, "lstm"))
        rc = spec_lstm_from_json(spec, config, path);
    else
        return tb_error("%s: unknown model (expected a GPT2Config with model_type \"gpt2\", a "
                        "MambaConfig with d_model and ssm_cfg, or model_type \"lstm\")", path);
    if (rc) return rc;
    return apply_tunebench_extras(spec, config, path);
}
