// configs.c: named model configs and ecosystem config.json files, through the
// registry: each architecture lists its own configs and reads its own
// config.json fields (models/<arch>.c); this file finds the architecture and
// handles what all of them share (the "tunebench" object's name and context).
//
// Every named config at the music-aware tokenizer's V = 1024 (embeddings
// included, the LM head tied to the token embedding), with each
// architecture's parameter formula in its own file's header:
//
//   config      shape                                          params    vs GPT-2
//   gpt2-6m     d_model 256, 7 layers, 8 heads, context 256    5,856,512
//   mamba-6m    d_model 256, 13 layers, d_state 16             5,956,608   +1.7%
//   lstm-6m     hidden 480, 3 layers                           6,032,640   +3.0%
//   gpt2-60m    d_model 640, 12 layers, 10 heads, context 256  59,902,720
//   mamba-60m   d_model 640, 23 layers, d_state 16             61,169,920  +2.1%
//   lstm-60m    hidden 1536, 3 layers                          58,232,832  -2.8%
//
// The tiny configs exist for the tests only.
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "lib/common.h"
#include "model.h"

int model_spec_by_name(ModelSpec *spec, const char *name, int vocab_size) {
    if (vocab_size <= 0) return tb_error("config %s: vocab_size %d must be positive", name, vocab_size);
    char known[512] = "";
    size_t len = 0;
    for (int a = 0; a < model_arch_count(); a++) {
        const ModelArch *arch = model_arch_at(a);
        for (int c = 0; c < arch->num_configs; c++) {
            const ModelSpec *named = &arch->configs[c];
            if (tb_streq(named->name, name)) {
                *spec = *named;
                snprintf(spec->arch, sizeof spec->arch, "%s", arch->name);
                spec->vocab_size = vocab_size;
                return 0;
            }
            if (len < sizeof known)
                len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", len ? ", " : "",
                                        named->name);
        }
    }
    return tb_error("unknown model config '%s' (use one of: %s)", name, known);
}

// ---------------------------------------------------------------- config.json

int model_config_int(const cJSON *obj, const char *key, int *out, int has_default, int dflt,
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

// tunebench's own fields, kept apart from the ecosystem's in a "tunebench"
// object: the config name and the context for every architecture, then what
// the architecture's own config cannot express (its read_extras).
static int apply_tunebench_extras(ModelSpec *s, const ModelArch *arch, const cJSON *c,
                                  const char *path) {
    const cJSON *tb = cJSON_GetObjectItemCaseSensitive(c, "tunebench");
    snprintf(s->name, sizeof s->name, "%s-custom", s->arch);
    if (tb && !cJSON_IsObject(tb)) return tb_error("%s: \"tunebench\" must be an object", path);
    if (tb) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(tb, "name");
        if (cJSON_IsString(name)) snprintf(s->name, sizeof s->name, "%s", name->valuestring);
        if (model_config_int(tb, "max_seq_len", &s->max_seq_len, 1, s->max_seq_len, path)) return -1;
    }
    return arch->read_extras ? arch->read_extras(s, c, tb, path) : 0;
}

int model_spec_from_config_json(ModelSpec *spec, const cJSON *config, const char *path) {
    if (!cJSON_IsObject(config)) return tb_error("%s: config is not a JSON object", path);
    for (int a = 0; a < model_arch_count(); a++) {
        const ModelArch *arch = model_arch_at(a);
        if (!arch->claims_config(config)) continue;
        memset(spec, 0, sizeof *spec);
        if (arch->spec_from_config(spec, config, path)) return -1;
        snprintf(spec->arch, sizeof spec->arch, "%s", arch->name);
        if (apply_tunebench_extras(spec, arch, config, path)) return -1;
        return model_spec_check(spec, path);
    }
    char kinds[512] = "";
    size_t len = 0;
    for (int a = 0; a < model_arch_count() && len < sizeof kinds; a++)
        len += (size_t)snprintf(kinds + len, sizeof kinds - len, "%s%s",
                                a == 0 ? "" : a + 1 == model_arch_count() ? " or " : ", ",
                                model_arch_at(a)->config_kind);
    return tb_error("%s: unknown model (expected %s)", path, kinds);
}
