// mamba_formats.c: Mamba's configs, its checkpoint formats (transformers'
// MambaConfig, which tunebench writes, and mamba_ssm's, which it also reads
// and exports) and its registry entry. The model itself is mamba.c.
#include <stdio.h>

#include <cjson/cJSON.h>

#include "lib/common.h"
#include "mamba.h"
#include "model.h"

// The embedding's name in mamba_ssm's MambaLMHeadModel, after ours.
static const char *const mamba_ssm_names[] = {MAMBA_EMBEDDING, "backbone.embedding.weight", NULL};

// ================================================================ config.json

// transformers' MambaConfig, so that MambaForCausalLM.from_pretrained(dir)
// builds this model. Its initialisation fields describe mamba_init_weights.
cJSON *mamba_config_json(const Model *m) {
    const ModelSpec *s = &m->spec;
    cJSON *c = cJSON_CreateObject();
    cJSON *archs = cJSON_AddArrayToObject(c, "architectures");
    cJSON_AddItemToArray(archs, cJSON_CreateString("MambaForCausalLM"));
    cJSON_AddStringToObject(c, "model_type", "mamba");
    cJSON_AddNumberToObject(c, "vocab_size", s->vocab_size);
    cJSON_AddNumberToObject(c, "hidden_size", s->d_model);
    cJSON_AddNumberToObject(c, "num_hidden_layers", s->n_layer);
    cJSON_AddNumberToObject(c, "state_size", s->d_state);
    cJSON_AddNumberToObject(c, "conv_kernel", s->d_conv);
    cJSON_AddNumberToObject(c, "expand", s->expand);
    cJSON_AddNumberToObject(c, "intermediate_size", s->expand * s->d_model);
    cJSON_AddNumberToObject(c, "time_step_rank", s->dt_rank);
    cJSON_AddBoolToObject(c, "use_bias", 0);
    cJSON_AddBoolToObject(c, "use_conv_bias", 1);
    cJSON_AddStringToObject(c, "hidden_act", "silu");
    cJSON_AddNumberToObject(c, "layer_norm_epsilon", MAMBA_NORM_EPS);
    cJSON_AddBoolToObject(c, "residual_in_fp32", 1);
    cJSON_AddBoolToObject(c, "tie_word_embeddings", 1);
    cJSON_AddNumberToObject(c, "time_step_min", MAMBA_DT_MIN);
    cJSON_AddNumberToObject(c, "time_step_max", MAMBA_DT_MAX);
    cJSON_AddNumberToObject(c, "time_step_floor", MAMBA_DT_FLOOR);
    cJSON_AddNumberToObject(c, "time_step_scale", 1.0);
    cJSON_AddStringToObject(c, "time_step_init_scheme", "random");
    cJSON_AddBoolToObject(c, "rescale_prenorm_residual", 1);
    cJSON_AddBoolToObject(c, "use_cache", 1);
    cJSON_AddStringToObject(c, "torch_dtype", "float32");
    return c;
}

// mamba_ssm's MambaConfig, every field of its dataclass and nothing else,
// so that MambaLMHeadModel(MambaConfig(**config)) builds this model. The
// embedding has exactly vocab_size rows, so the padding multiple is one that
// vocab_size already meets (8 for the V = 1024 tokenizer).
static cJSON *mamba_ssm_config_json(const ModelSpec *s) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "d_model", s->d_model);
    cJSON_AddNumberToObject(c, "d_intermediate", 0);
    cJSON_AddNumberToObject(c, "n_layer", s->n_layer);
    cJSON_AddNumberToObject(c, "vocab_size", s->vocab_size);
    cJSON *ssm = cJSON_AddObjectToObject(c, "ssm_cfg");
    cJSON_AddStringToObject(ssm, "layer", "Mamba1");
    cJSON_AddNumberToObject(ssm, "d_state", s->d_state);
    cJSON_AddNumberToObject(ssm, "d_conv", s->d_conv);
    cJSON_AddNumberToObject(ssm, "expand", s->expand);
    cJSON_AddNumberToObject(ssm, "dt_rank", s->dt_rank);
    cJSON_AddNumberToObject(ssm, "dt_min", MAMBA_DT_MIN);
    cJSON_AddNumberToObject(ssm, "dt_max", MAMBA_DT_MAX);
    cJSON_AddNumberToObject(ssm, "dt_init_floor", MAMBA_DT_FLOOR);
    cJSON_AddBoolToObject(ssm, "conv_bias", 1);
    cJSON_AddBoolToObject(ssm, "bias", 0);
    cJSON_AddArrayToObject(c, "attn_layer_idx");
    cJSON_AddObjectToObject(c, "attn_cfg");
    cJSON_AddBoolToObject(c, "rms_norm", 1);
    cJSON_AddBoolToObject(c, "residual_in_fp32", 1);
    cJSON_AddBoolToObject(c, "fused_add_norm", 1);
    cJSON_AddNumberToObject(c, "pad_vocab_size_multiple", s->vocab_size % 8 == 0 ? 8 : 1);
    cJSON_AddBoolToObject(c, "tie_embeddings", 1);
    return c;
}

// ================================================================ the registry entry

// Time steps between the selective scan's saved states: the backward
// recomputes inside each chunk, so this trades memory for recomputation.
#define DEFAULT_SCAN_CHUNK 64

// dt_rank is mamba_ssm's "auto", ceil(d_model / 16). tiny-mamba's chunk of 5
// does not divide the test lengths, so the tests cross chunk boundaries
// mid-sequence.
#define MAMBA_CONFIG(config_name, d, layers, states, context, chunk)                          \
    {.name = config_name, .d_model = d, .n_layer = layers, .d_state = states, .d_conv = 4,   \
     .expand = 2, .dt_rank = ((d) + 15) / 16, .a_init = "s4d_real", .max_seq_len = context, \
     .scan_chunk = chunk}
static const ModelSpec mamba_configs[] = {
    MAMBA_CONFIG("mamba-6m", 256, 13, 16, 256, DEFAULT_SCAN_CHUNK),
    MAMBA_CONFIG("mamba-60m", 640, 23, 16, 256, DEFAULT_SCAN_CHUNK),
    MAMBA_CONFIG("tiny-mamba", 32, 2, 4, 16, 5),
};

// transformers' MambaConfig has model_type "mamba"; mamba_ssm's has none,
// and a d_model field says it.
static int mamba_claims_config(const cJSON *c) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "model_type");
    if (cJSON_IsString(type)) return tb_streq(type->valuestring, "mamba");
    return !type && cJSON_GetObjectItemCaseSensitive(c, "d_model") != NULL;
}

// A boolean field that, when present, must be `want` for this model.
static int config_bool_is(const cJSON *c, const char *key, int want, const char *why, const char *path) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, key);
    if (v && !(cJSON_IsBool(v) && !cJSON_IsTrue(v) == !want))
        return tb_error("%s: %s must be %s (%s)", path, key, want ? "true" : "false", why);
    return 0;
}

// dt_rank: a number, or "auto" (or absent) for ceil(d_model / 16).
static int config_dt_rank(ModelSpec *s, const cJSON *c, const char *key, const char *path) {
    const cJSON *dt_rank = cJSON_GetObjectItemCaseSensitive(c, key);
    if (!dt_rank || (cJSON_IsString(dt_rank) && tb_streq(dt_rank->valuestring, "auto"))) {
        s->dt_rank = (s->d_model + 15) / 16;
        return 0;
    }
    return model_config_int(c, key, &s->dt_rank, 0, 0, path);
}

// transformers' fields (what tunebench writes).
static int spec_from_transformers_config(ModelSpec *s, const cJSON *c, const char *path) {
    if (model_config_int(c, "hidden_size", &s->d_model, 0, 0, path) ||
        model_config_int(c, "num_hidden_layers", &s->n_layer, 0, 0, path) ||
        model_config_int(c, "vocab_size", &s->vocab_size, 0, 0, path) ||
        model_config_int(c, "state_size", &s->d_state, 1, 16, path) ||
        model_config_int(c, "conv_kernel", &s->d_conv, 1, 4, path) ||
        model_config_int(c, "expand", &s->expand, 1, 2, path) || config_dt_rank(s, c, "time_step_rank", path))
        return -1;
    int inner = s->expand * s->d_model;
    if (model_config_int(c, "intermediate_size", &inner, 1, inner, path)) return -1;
    if (inner != s->expand * s->d_model)
        return tb_error("%s: intermediate_size %d is not expand * hidden_size = %d", path, inner,
                        s->expand * s->d_model);
    if (config_bool_is(c, "use_bias", 0, "tunebench's projections have no bias", path) ||
        config_bool_is(c, "use_conv_bias", 1, "tunebench's conv1d has a bias", path) ||
        config_bool_is(c, "tie_word_embeddings", 1, "the LM head is the embedding", path))
        return -1;
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(c, "hidden_act");
    if (act && !(cJSON_IsString(act) && tb_streq(act->valuestring, "silu")))
        return tb_error("%s: hidden_act must be \"silu\" (tunebench's Mamba gates with SiLU)", path);
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(c, "layer_norm_epsilon");
    if (eps && !(cJSON_IsNumber(eps) && (float)eps->valuedouble == MAMBA_NORM_EPS))
        return tb_error("%s: layer_norm_epsilon must be %g (tunebench's RMSNorm)", path, (double)MAMBA_NORM_EPS);
    return 0;
}

// mamba_ssm's fields (tunebench's older checkpoints, and mamba_ssm's own).
static int spec_from_mamba_ssm_config(ModelSpec *s, const cJSON *c, const char *path) {
    int pad = 1;
    if (model_config_int(c, "d_model", &s->d_model, 0, 0, path) ||
        model_config_int(c, "n_layer", &s->n_layer, 0, 0, path) ||
        model_config_int(c, "vocab_size", &s->vocab_size, 0, 0, path) ||
        model_config_int(c, "pad_vocab_size_multiple", &pad, 1, 8, path))
        return -1;
    // mamba_ssm pads the embedding to a multiple of pad_vocab_size_multiple;
    // tunebench's tables hold exactly vocab_size rows, so refuse a padding.
    if (s->vocab_size % pad != 0)
        return tb_error("%s: vocab_size %d is not a multiple of pad_vocab_size_multiple %d "
                        "(padded embeddings are not supported)", path, s->vocab_size, pad);
    if (config_bool_is(c, "rms_norm", 1, "tunebench's Mamba uses RMSNorm", path) ||
        config_bool_is(c, "tie_embeddings", 1, "the LM head is the embedding", path))
        return -1;
    const cJSON *ssm = cJSON_GetObjectItemCaseSensitive(c, "ssm_cfg");
    if (ssm && !cJSON_IsObject(ssm)) return tb_error("%s: ssm_cfg must be an object", path);
    if (model_config_int(ssm, "d_state", &s->d_state, 1, 16, path) ||
        model_config_int(ssm, "d_conv", &s->d_conv, 1, 4, path) ||
        model_config_int(ssm, "expand", &s->expand, 1, 2, path) || config_dt_rank(s, ssm, "dt_rank", path))
        return -1;
    const cJSON *layer = cJSON_GetObjectItemCaseSensitive(ssm, "layer");
    if (layer && (!cJSON_IsString(layer) || !tb_streq(layer->valuestring, "Mamba1")))
        return tb_error("%s: ssm_cfg.layer must be \"Mamba1\"", path);
    return 0;
}

static int mamba_spec_from_config(ModelSpec *s, const cJSON *c, const char *path) {
    int rc = cJSON_GetObjectItemCaseSensitive(c, "d_model") ? spec_from_mamba_ssm_config(s, c, path)
                                                            : spec_from_transformers_config(s, c, path);
    if (rc) return rc;
    snprintf(s->a_init, sizeof s->a_init, "s4d_real");
    s->scan_chunk = DEFAULT_SCAN_CHUNK;
    s->max_seq_len = 256;  // Mamba has no positional limit; "tunebench" may override it
    return 0;
}

// What MambaConfig cannot express: the A initialisation and the scan's chunk.
static int mamba_read_extras(ModelSpec *s, const cJSON *c, const cJSON *extras, const char *path) {
    (void)c;
    if (!extras) return 0;
    if (model_config_int(extras, "scan_chunk", &s->scan_chunk, 1, s->scan_chunk, path)) return -1;
    const cJSON *a_init = cJSON_GetObjectItemCaseSensitive(extras, "a_init");
    if (a_init) {
        if (!cJSON_IsString(a_init) || (!tb_streq(a_init->valuestring, "s4d_real") &&
                                        !tb_streq(a_init->valuestring, "constant")))
            return tb_error("%s: tunebench.a_init must be \"s4d_real\" or \"constant\"", path);
        snprintf(s->a_init, sizeof s->a_init, "%s", a_init->valuestring);
    }
    return 0;
}

static void mamba_write_extras(const ModelSpec *s, cJSON *extras) {
    cJSON_AddStringToObject(extras, "a_init", s->a_init);
    cJSON_AddNumberToObject(extras, "scan_chunk", s->scan_chunk);
}

// 6 per parameter, and the selective scan's own work, about 9 flops per
// (d_inner, d_state) element per token forward and backward; the norms, the
// convolution and the activations are left out, as usual for MFU.
static double mamba_flops_per_token(const ModelSpec *s, size_t num_params, int T, char *formula,
                                    size_t cap) {
    (void)T;
    double d_inner = (double)s->expand * s->d_model;
    snprintf(formula, cap, "6*N + 9*L*d_inner*d_state (N = %zu all parameters, L = %d, "
             "d_inner = %.0f, d_state = %d)", num_params, s->n_layer, d_inner, s->d_state);
    return 6.0 * (double)num_params + 9.0 * s->n_layer * d_inner * s->d_state;
}

static void mamba_describe(const ModelSpec *s, char *out, size_t cap) {
    snprintf(out, cap, "d_state %d", s->d_state);
}

static int mamba_scan_shape(const ModelSpec *s, int B, int T, SelectiveScanParams *shape) {
    *shape = (SelectiveScanParams){.batch = B, .seqlen = T, .dim = s->expand * s->d_model,
                                   .dstate = s->d_state, .chunk = s->scan_chunk};
    return s->n_layer;
}

const ModelArch mamba_arch = {
    .name = "mamba",
    .title = "Mamba",
    .vtbl = &mamba_vtbl,
    .configs = mamba_configs,
    .num_configs = (int)(sizeof mamba_configs / sizeof mamba_configs[0]),
    .context_bounded = 0,
    .embedding_tensor = MAMBA_EMBEDDING,
    .claims_config = mamba_claims_config,
    .config_kind = "a MambaConfig (transformers' with model_type \"mamba\", or mamba_ssm's with d_model)",
    .spec_from_config = mamba_spec_from_config,
    .read_extras = mamba_read_extras,
    .write_extras = mamba_write_extras,
    .flops_per_token = mamba_flops_per_token,
    .describe = mamba_describe,
    .scan_shape = mamba_scan_shape,
    .other_format = "mamba_ssm",
    .other_config_json = mamba_ssm_config_json,
    .other_names = mamba_ssm_names,
};
