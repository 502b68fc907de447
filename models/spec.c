// spec.c: a ModelSpec as data. One table names every integer field of a
// ModelSpec, so that the run record, the error messages and the checkpoint
// shape check treat every architecture's hyperparameters alike; a field an
// architecture does not use is 0 and is left out.
#include <cjson/cJSON.h>
#include <stddef.h>
#include <string.h>

#include "lib/common.h"
#include "model.h"

typedef enum {
    FIELD_SHAPE,    // changes the tensors: a checkpoint must match it
    FIELD_CONTEXT,  // a shape only where the architecture is context_bounded
    FIELD_METHOD,   // how it is computed, not what (free to differ on load)
} FieldKind;

// max: the largest value any model tunebench builds may have, far above the
// study's (and GPT-2 XL's or Mamba 2.8B's) sizes; a larger one is a corrupt
// or foreign config.json, refused before any tensor is registered.
static const struct {
    const char *name;
    size_t offset;
    FieldKind kind;
    int max;
} SPEC_FIELDS[] = {
    {"vocab_size", offsetof(ModelSpec, vocab_size), FIELD_SHAPE, 1 << 20},
    {"max_seq_len", offsetof(ModelSpec, max_seq_len), FIELD_CONTEXT, 1 << 20},
    {"d_model", offsetof(ModelSpec, d_model), FIELD_SHAPE, 1 << 16},
    {"n_layer", offsetof(ModelSpec, n_layer), FIELD_SHAPE, 1024},
    {"n_head", offsetof(ModelSpec, n_head), FIELD_SHAPE, 1024},
    {"d_state", offsetof(ModelSpec, d_state), FIELD_SHAPE, 1024},
    {"d_conv", offsetof(ModelSpec, d_conv), FIELD_SHAPE, 64},
    {"expand", offsetof(ModelSpec, expand), FIELD_SHAPE, 64},
    {"dt_rank", offsetof(ModelSpec, dt_rank), FIELD_SHAPE, 1 << 16},
    {"scan_chunk", offsetof(ModelSpec, scan_chunk), FIELD_METHOD, 1 << 20},
};
#define NUM_SPEC_FIELDS ((int)(sizeof SPEC_FIELDS / sizeof SPEC_FIELDS[0]))

static int *field(ModelSpec *s, int i) { return (int *)((char *)s + SPEC_FIELDS[i].offset); }
static int field_of(const ModelSpec *s, int i) {
    return *(const int *)((const char *)s + SPEC_FIELDS[i].offset);
}

int model_spec_check(const ModelSpec *spec, const char *origin) {
    for (int i = 0; i < NUM_SPEC_FIELDS; i++) {
        int v = field_of(spec, i);
        if (v < 0 || v > SPEC_FIELDS[i].max)
            return tb_error("%s: %s is %d; tunebench builds models with %s from 1 to %d (a corrupt config, or "
                            "one far larger than any model it trains)", origin, SPEC_FIELDS[i].name, v,
                            SPEC_FIELDS[i].name, SPEC_FIELDS[i].max);
    }
    return 0;
}

cJSON *model_spec_json(const ModelSpec *spec) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < NUM_SPEC_FIELDS; i++)
        if (field_of(spec, i)) cJSON_AddNumberToObject(o, SPEC_FIELDS[i].name, field_of(spec, i));
    if (spec->a_init[0]) cJSON_AddStringToObject(o, "a_init", spec->a_init);
    return o;
}

int model_spec_from_record(ModelSpec *spec, const cJSON *model) {
    memset(spec, 0, sizeof *spec);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(model, "name");
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(model, "arch");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(model, "spec");
    if (!cJSON_IsString(arch) || !cJSON_IsObject(s))
        return tb_error("a record's model has no \"arch\" string or \"spec\" object");
    snprintf(spec->arch, sizeof spec->arch, "%s", arch->valuestring);
    if (cJSON_IsString(name)) snprintf(spec->name, sizeof spec->name, "%s", name->valuestring);
    for (int i = 0; i < NUM_SPEC_FIELDS; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, SPEC_FIELDS[i].name);
        if (cJSON_IsNumber(v)) *field(spec, i) = v->valueint;
    }
    if (model_spec_check(spec, "the record's model.spec")) return -1;
    const cJSON *a_init = cJSON_GetObjectItemCaseSensitive(s, "a_init");
    if (cJSON_IsString(a_init)) snprintf(spec->a_init, sizeof spec->a_init, "%s", a_init->valuestring);
    return 0;
}

void model_spec_describe(const ModelSpec *spec, char *out, size_t cap) {
    size_t len = (size_t)snprintf(out, cap, "%s '%s' (", spec->arch, spec->name);
    const char *sep = "";
    for (int i = 0; i < NUM_SPEC_FIELDS && len < cap; i++) {
        if (SPEC_FIELDS[i].kind == FIELD_METHOD || !field_of(spec, i)) continue;
        len += (size_t)snprintf(out + len, cap - len, "%s%s %d", sep, SPEC_FIELDS[i].name,
                                field_of(spec, i));
        sep = ", ";
    }
    if (len < cap) snprintf(out + len, cap - len, ")");
}

void model_spec_summary(const ModelSpec *spec, char *out, size_t cap) {
    int i = model_arch_index(spec->arch);
    if (cap) out[0] = '\0';
    if (i >= 0) model_arch_at(i)->describe(spec, out, cap);
}

int model_spec_same_shapes(const ModelSpec *a, const ModelSpec *b) {
    if (!tb_streq(a->arch, b->arch)) return 0;
    int i = model_arch_index(a->arch);
    int context_bounded = i >= 0 && model_arch_at(i)->context_bounded;
    for (int f = 0; f < NUM_SPEC_FIELDS; f++) {
        FieldKind k = SPEC_FIELDS[f].kind;
        if (k == FIELD_METHOD || (k == FIELD_CONTEXT && !context_bounded)) continue;
        if (field_of(a, f) != field_of(b, f)) return 0;
    }
    return 1;
}
