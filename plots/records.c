// records.c: see records.h.
#include "records.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "models/model.h"

// The paper's order: by size (the parameter count's order of magnitude, so
// that models matched to each other sit together), then the registry's order
// of architectures, then the name.
static double size_class(const cJSON *root) {
    double n = records_num(root, "model.num_params");
    return isfinite(n) && n > 0 ? floor(log10(n) + 0.5) : INFINITY;
}

static int arch_order(const cJSON *root) {
    int i = model_arch_index(records_str(root, "model.arch", ""));
    return i < 0 ? model_arch_count() : i;
}

const cJSON *records_get(const cJSON *root, const char *dotted) {
    char key[128];
    const cJSON *node = root;
    while (node && *dotted) {
        const char *dot = strchr(dotted, '.');
        size_t n = dot ? (size_t)(dot - dotted) : strlen(dotted);
        snprintf(key, sizeof key, "%.*s", (int)n, dotted);
        node = cJSON_GetObjectItemCaseSensitive(node, key);
        dotted += n + (dot ? 1 : 0);
    }
    return node;
}

double records_num(const cJSON *root, const char *dotted) {
    const cJSON *v = records_get(root, dotted);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *records_str(const cJSON *root, const char *dotted, const char *fallback) {
    const cJSON *v = records_get(root, dotted);
    return cJSON_IsString(v) ? v->valuestring : fallback;
}

void records_label(const Record *r, char *out, int cap) {
    const char *arch = records_str(r->root, "model.arch", "");
    int i = model_arch_index(arch);
    size_t n = strlen(arch);
    if (i < 0 || strncmp(r->experiment, arch, n) != 0 || r->experiment[n] != '-') {
        snprintf(out, (size_t)cap, "%s", r->experiment);
        return;
    }
    snprintf(out, (size_t)cap, "%s ", model_arch_at(i)->title);
    size_t used = strlen(out);
    for (const char *c = r->experiment + n + 1; *c && used + 1 < (size_t)cap; c++)
        out[used++] = (char)toupper((unsigned char)*c);
    out[used] = '\0';
}

// One hue per architecture (in registry order), darker for the larger size
// (about 30M parameters or more, so the 60M models; the same in every figure
// whatever else the set holds): GPT-2 orange, Mamba blue, then green,
// purple, red; grey for an architecture this build does not know.
static const char *const PALETTE[][2] = {
    {"#e6550d", "#a63603"}, {"#3182bd", "#08519c"}, {"#31a354", "#006d2c"},
    {"#756bb1", "#54278f"}, {"#de2d26", "#a50f15"},
};
#define PALETTE_SIZE ((int)(sizeof PALETTE / sizeof PALETTE[0]))

const char *records_colour(const RecordSet *set, int index) {
    const cJSON *root = set->runs[index].root;
    int a = model_arch_index(records_str(root, "model.arch", ""));
    if (a < 0 || a >= PALETTE_SIZE) return "#636363";
    return PALETTE[a][size_class(root) >= 8];
}

// Is candidate a better choice than current for the same experiment?
static int better(const cJSON *candidate, const cJSON *current) {
    int cc = strcmp(records_str(candidate, "identity.status", ""), "completed") == 0;
    int uc = strcmp(records_str(current, "identity.status", ""), "completed") == 0;
    if (cc != uc) return cc;
    double cs = records_num(candidate, "timing.steps_done"), us = records_num(current, "timing.steps_done");
    if (cs != us) return cs > us;
    return strcmp(records_str(candidate, "identity.started_at", ""), records_str(current, "identity.started_at", "")) > 0;
}

static void consider(RecordSet *set, const char *path) {
    char *text = tb_read_file(path, NULL);
    if (!text) return;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const char *experiment = root ? records_str(root, "identity.experiment", NULL) : NULL;
    if (!experiment || !cJSON_IsNumber(records_get(root, "schema_version"))) {
        cJSON_Delete(root);  // not a run record (a schema, a benchmark's JSON, ...)
        return;
    }
    for (int i = 0; i < set->count; i++) {
        if (strcmp(set->runs[i].experiment, experiment) != 0) continue;
        if (better(root, set->runs[i].root)) {
            cJSON_Delete(set->runs[i].root);
            set->runs[i].root = root;
            snprintf(set->runs[i].path, sizeof set->runs[i].path, "%s", path);
        } else {
            cJSON_Delete(root);
        }
        return;
    }
    if (set->count == MAX_EXPERIMENTS) {
        cJSON_Delete(root);
        return;
    }
    Record *r = &set->runs[set->count++];
    snprintf(r->experiment, sizeof r->experiment, "%s", experiment);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->root = root;
}

static int compare_records(const void *a, const void *b) {
    const Record *x = a, *y = b;
    double sx = size_class(x->root), sy = size_class(y->root);
    if (sx != sy) return sx < sy ? -1 : 1;
    int ax = arch_order(x->root), ay = arch_order(y->root);
    if (ax != ay) return ax - ay;
    return strcmp(x->experiment, y->experiment);
}
int records_load(RecordSet *set, const char *dir) {
    memset(set, 0, sizeof *set);
    DIR *top = opendir(dir);
    if (!top) return tb_error("cannot open the records folder %s (run an experiment first, or set RECORDS=)", dir);
    struct dirent *e;
    while ((e = readdir(top))) {
        if (e->d_name[0] == '.') continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        if (!tb_dir_exists(sub)) continue;
        DIR *d = opendir(sub);
        if (!d) continue;
        struct dirent *f;
        while ((f = readdir(d))) {
            size_t n = strlen(f->d_name);
            if (n < 6 || strcmp(f->d_name + n - 5, ".json") != 0) continue;
            char path[2100];
            snprintf(path, sizeof path, "%s/%s", sub, f->d_name);
            if (tb_file_exists(path)) consider(set, path);
        }
        closedir(d);
    }
    closedir(top);
    qsort(set->runs, (size_t)set->count, sizeof set->runs[0], compare_records);
    return 0;
}

void records_free(RecordSet *set) {
    for (int i = 0; i < set->count; i++) cJSON_Delete(set->runs[i].root);
    set->count = 0;
}
