// registry.c: the table of architectures (models/architectures.def). The
// only place that lists them; everything else asks this table or a model.
#include <stdio.h>
#include <string.h>

#include "lib/common.h"
#include "model.h"

#define ARCH(x) extern const ModelArch x##_arch;
#include "architectures.def"
#undef ARCH

static const ModelArch *const ARCHITECTURES[] = {
#define ARCH(x) &x##_arch,
#include "architectures.def"
#undef ARCH
};
#define NUM_ARCHITECTURES ((int)(sizeof ARCHITECTURES / sizeof ARCHITECTURES[0]))

int model_arch_count(void) { return NUM_ARCHITECTURES; }

const ModelArch *model_arch_at(int i) {
    return i >= 0 && i < NUM_ARCHITECTURES ? ARCHITECTURES[i] : NULL;
}

int model_arch_index(const char *name) {
    for (int i = 0; i < NUM_ARCHITECTURES; i++)
        if (tb_streq(ARCHITECTURES[i]->name, name)) return i;
    return -1;
}

const ModelArch *model_arch_find(const char *name) {
    int i = model_arch_index(name);
    if (i >= 0) return ARCHITECTURES[i];
    char known[256] = "";
    size_t len = 0;
    for (int k = 0; k < NUM_ARCHITECTURES && len < sizeof known; k++)
        len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", k ? ", " : "",
                                ARCHITECTURES[k]->name);
    tb_error("unknown architecture '%s' (this build has %s)", name, known);
    return NULL;
}

void model_study_configs(char *out, size_t cap) {
    size_t len = 0;
    if (cap) out[0] = '\0';
    for (int a = 0; a < NUM_ARCHITECTURES; a++)
        for (int c = 0; c < ARCHITECTURES[a]->num_configs && len < cap; c++) {
            const char *name = ARCHITECTURES[a]->configs[c].name;
            if (strncmp(name, "tiny-", 5) == 0) continue;
            len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "," : "", name);
        }
}

const char *model_arch_other_name(const ModelArch *arch, const char *name) {
    for (const char *const *p = arch->other_names; p && p[0]; p += 2)
        if (tb_streq(p[0], name)) return p[1];
    return name;
}
