// records.c: see records.h.
#include "records.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/command.h"
#include "lib/common.h"
#include "models/model.h"

// The paper's order: by size (the parameter count's order of magnitude, so
// that models matched to each other sit together), then the registry's order
// of architectures, then the name.
double records_size_class(const cJSON *root) {
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

void records_label_name(const char *experiment, const char *arch, char *out, int cap) {
    int i = model_arch_index(arch);
    size_t n = strlen(arch);
    if (i < 0 || strncmp(experiment, arch, n) != 0 || experiment[n] != '-') {
        snprintf(out, (size_t)cap, "%s", experiment);
        return;
    }
    snprintf(out, (size_t)cap, "%s ", model_arch_at(i)->title);
    size_t used = strlen(out);
    for (const char *c = experiment + n + 1; *c && used + 1 < (size_t)cap; c++)
        out[used++] = (char)toupper((unsigned char)*c);
    out[used] = '\0';
}

const char *records_precision(const cJSON *root) {
    return records_str(root, "training.config.precision", PRECISION_DEFAULT_NAME);
}

void records_label(const Record *r, char *out, int cap) {
    records_label_name(r->experiment, records_str(r->root, "model.arch", ""), out, cap);
    const char *precision = records_precision(r->root);
    size_t used = strlen(out);
    if (!tb_streq(precision, PRECISION_DEFAULT_NAME) && used + 1 < (size_t)cap)
        snprintf(out + used, (size_t)cap - used, " %s", precision);
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

const char *records_colour_of(const char *arch, int large) {
    int a = model_arch_index(arch);
    if (a < 0 || a >= PALETTE_SIZE) return "#636363";
    return PALETTE[a][large != 0];
}

const char *records_colour(const RecordSet *set, int index) {
    const cJSON *root = set->runs[index].root;
    return records_colour_of(records_str(root, "model.arch", ""), records_size_class(root) >= 8);
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

static double seed_of(const cJSON *root) { return records_num(root, "training.config.seed"); }

// The keys whose values the seeds of one experiment must share.
static const char *const SAME_CONFIG[] = {"model", "data", "steps", "batch_size", "seq_len", "optimizer"};

// Which key of the training config differs between two records, or NULL.
static const char *config_difference(const cJSON *a, const cJSON *b) {
    const cJSON *ca = records_get(a, "training.config"), *cb = records_get(b, "training.config");
    for (size_t i = 0; i < sizeof SAME_CONFIG / sizeof SAME_CONFIG[0]; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(ca, SAME_CONFIG[i]);
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(cb, SAME_CONFIG[i]);
        if (!x && !y) continue;
        if (!x || !y || !cJSON_Compare(x, y, 1)) return SAME_CONFIG[i];
    }
    // Records from before the key trained in fp32, its default.
    if (!tb_streq(records_precision(a), records_precision(b))) return "precision";
    return NULL;
}

// Every record read, before the choice of one per experiment and seed.
typedef struct {
    cJSON *root;
    char path[2100];
} Candidate;

static int consider(Candidate **all, int *n, int *cap, const char *path) {
    char *text = tb_read_file(path, NULL);
    if (!text) return 0;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const char *experiment = root ? records_str(root, "identity.experiment", NULL) : NULL;
    if (!experiment || !cJSON_IsNumber(records_get(root, "schema_version"))) {
        cJSON_Delete(root);  // not a run record (a schema, a benchmark's JSON, ...)
        return 0;
    }
    if (strlen(experiment) >= sizeof((Record *)0)->experiment) {
        cJSON_Delete(root);
        return tb_error("%s: identity.experiment is longer than %zu characters", path,
                        sizeof((Record *)0)->experiment - 1);
    }
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        Candidate *grown = realloc(*all, (size_t)*cap * sizeof **all);
        if (!grown) tb_die("out of memory reading records");
        *all = grown;
    }
    (*all)[*n].root = root;
    snprintf((*all)[*n].path, sizeof (*all)[*n].path, "%s", path);
    (*n)++;
    return 0;
}

static int compare_seed(const void *a, const void *b) {
    double x = seed_of(((const Candidate *)a)->root), y = seed_of(((const Candidate *)b)->root);
    return x < y ? -1 : x > y;
}

// Distinct seeds among the records of c[i]'s configuration.
static int seeds_of_config(const Candidate *c, int n, int i) {
    int count = 0;
    for (int j = 0; j < n; j++) {
        if (config_difference(c[j].root, c[i].root)) continue;
        int seen = 0;
        for (int k = 0; k < j && !seen; k++)
            seen = !config_difference(c[k].root, c[i].root) && seed_of(c[k].root) == seed_of(c[j].root);
        count += !seen;
    }
    return count;
}

// One experiment's records: the configuration with the most seeds (the
// best run's, among equals) is the experiment's; of each of its seeds, the
// best run.
static int choose(Record *r, Candidate *c, int n) {
    int best = 0, best_seeds = seeds_of_config(c, n, 0);
    for (int i = 1; i < n; i++) {
        int k = seeds_of_config(c, n, i);
        if (k > best_seeds || (k == best_seeds && better(c[i].root, c[best].root))) best = i, best_seeds = k;
    }
    Candidate kept[MAX_SEEDS];
    int k = 0;
    for (int i = 0; i < n; i++) {
        const char *differs = config_difference(c[i].root, c[best].root);
        if (differs) {
            fprintf(stderr, "records: %s left out: its training.config.%s differs from %s's\n", c[i].path, differs,
                    c[best].path);
            cJSON_Delete(c[i].root);
            continue;
        }
        int slot = -1;
        for (int j = 0; j < k; j++)
            if (seed_of(kept[j].root) == seed_of(c[i].root)) slot = j;
        if (slot < 0 && k == MAX_SEEDS) {
            for (int j = 0; j < k; j++) cJSON_Delete(kept[j].root);
            for (int j = i; j < n; j++) cJSON_Delete(c[j].root);
            return tb_error("%s: more than %d seeds of %s; keep at most %d seeds in one records folder", c[i].path,
                            MAX_SEEDS, r->experiment, MAX_SEEDS);
        }
        if (slot < 0) kept[slot = k++] = c[i];
        else if (better(c[i].root, kept[slot].root)) cJSON_Delete(kept[slot].root), kept[slot] = c[i];
        else cJSON_Delete(c[i].root);
    }
    qsort(kept, (size_t)k, sizeof kept[0], compare_seed);
    r->n_seeds = k;
    for (int j = 0; j < k; j++) {
        r->seeds[j] = kept[j].root;
        snprintf(r->seed_paths[j], sizeof r->seed_paths[j], "%s", kept[j].path);
    }
    r->root = r->seeds[0];
    snprintf(r->path, sizeof r->path, "%s", r->seed_paths[0]);
    return 0;
}

static int compare_records(const void *a, const void *b) {
    const Record *x = a, *y = b;
    double sx = records_size_class(x->root), sy = records_size_class(y->root);
    if (sx != sy) return sx < sy ? -1 : 1;
    int ax = arch_order(x->root), ay = arch_order(y->root);
    if (ax != ay) return ax - ay;
    return strcmp(x->experiment, y->experiment);
}

static int compare_candidate_experiment(const void *a, const void *b) {
    return strcmp(records_str(((const Candidate *)a)->root, "identity.experiment", ""),
                  records_str(((const Candidate *)b)->root, "identity.experiment", ""));
}

int records_load(RecordSet *set, const char *dir) {
    memset(set, 0, sizeof *set);
    DIR *top = opendir(dir);
    if (!top) return tb_error("cannot open the records folder %s (run an experiment first, or set RECORDS=)", dir);
    Candidate *all = NULL;
    int n = 0, cap = 0, rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(top))) {
        if (e->d_name[0] == '.') continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        if (!tb_dir_exists(sub)) continue;
        DIR *d = opendir(sub);
        if (!d) continue;
        struct dirent *f;
        while (!rc && (f = readdir(d))) {
            size_t len = strlen(f->d_name);
            if (len < 6 || strcmp(f->d_name + len - 5, ".json") != 0) continue;
            char path[2100];
            snprintf(path, sizeof path, "%s/%s", sub, f->d_name);
            if (tb_file_exists(path)) rc = consider(&all, &n, &cap, path);
        }
        closedir(d);
    }
    closedir(top);
    // Group by experiment (sorted by name), then choose within each group.
    if (n > 0) qsort(all, (size_t)n, sizeof *all, compare_candidate_experiment);  // all is NULL when none
    for (int i = 0; i < n && !rc;) {
        const char *name = records_str(all[i].root, "identity.experiment", "");
        int j = i + 1;
        while (j < n && strcmp(records_str(all[j].root, "identity.experiment", ""), name) == 0) j++;
        if (set->count == MAX_EXPERIMENTS) {
            rc = tb_error("%s holds more than %d experiments; give a folder with fewer", dir, MAX_EXPERIMENTS);
            break;
        }
        Record *r = &set->runs[set->count++];
        snprintf(r->experiment, sizeof r->experiment, "%s", name);
        rc = choose(r, all + i, j - i);  // takes the group's records (keeps or frees each)
        if (rc) set->count--;
        i = j;
        if (rc)
            for (int k = j; k < n; k++) cJSON_Delete(all[k].root);
    }
    free(all);
    if (rc) {
        records_free(set);
        return -1;
    }
    qsort(set->runs, (size_t)set->count, sizeof set->runs[0], compare_records);
    return 0;
}

void records_free(RecordSet *set) {
    for (int i = 0; i < set->count; i++)
        for (int s = 0; s < set->runs[i].n_seeds; s++) cJSON_Delete(set->runs[i].seeds[s]);
    set->count = 0;
}

// ---------------------------------------------------------------- over seeds

SeedStat seed_stat(const double *x, int count) {
    SeedStat s = {.mean = NAN, .sd = NAN, .min = NAN, .max = NAN};
    double sum = 0;
    for (int i = 0; i < count; i++) {
        if (!isfinite(x[i])) {
            s.missing++;
            continue;
        }
        if (s.n == 0 || x[i] < s.min) s.min = x[i];
        if (s.n == 0 || x[i] > s.max) s.max = x[i];
        sum += x[i];
        s.n++;
    }
    if (s.n == 0) return s;
    s.mean = sum / s.n;
    if (s.n > 1) {
        double ss = 0;
        for (int i = 0; i < count; i++)
            if (isfinite(x[i])) ss += (x[i] - s.mean) * (x[i] - s.mean);
        s.sd = sqrt(ss / (s.n - 1));
    }
    return s;
}

SeedStat records_seed_stat(const Record *r, double (*value)(const cJSON *root)) {
    double x[MAX_SEEDS];
    for (int i = 0; i < r->n_seeds; i++) x[i] = value(r->seeds[i]);
    return seed_stat(x, r->n_seeds);
}

SeedStat records_seed_stat_path(const Record *r, const char *dotted) {
    double x[MAX_SEEDS];
    for (int i = 0; i < r->n_seeds; i++) x[i] = records_num(r->seeds[i], dotted);
    return seed_stat(x, r->n_seeds);
}

double records_final_bpb(const cJSON *root) {
    const cJSON *rows = records_get(root, "validation");
    int n = cJSON_GetArraySize(rows);
    return n > 0 ? records_num(cJSON_GetArrayItem(rows, n - 1), "bpb") : NAN;
}

double records_best_bpb(const cJSON *root) {
    double best = NAN;
    const cJSON *row;
    cJSON_ArrayForEach(row, records_get(root, "validation")) {
        double x = records_num(row, "bpb");
        if (isfinite(x) && !(best <= x)) best = x;
    }
    return best;
}

int seed_stat_separated(const SeedStat *a, const SeedStat *b) {
    if (a->n < 2 || b->n < 2) return -1;
    return a->max < b->min || b->max < a->min;
}

// Adds s to a "; "-separated list of distinct names; returns 1 if it was new.
static int add_distinct(char *list, int cap, int *count, const char *s) {
    const char *p = list;
    size_t n = strlen(s);
    while (*p) {
        const char *end = strstr(p, "; ");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, s, n) == 0) return 0;
        p += len + (end ? 2 : 0);
    }
    size_t used = strlen(list);
    snprintf(list + used, (size_t)cap - used, "%s%s", used ? "; " : "", s);
    (*count)++;
    return 1;
}

void records_provenance(const RecordSet *set, int *hosts, char *host_list, int host_cap, int *commits,
                        char *commit_list, int commit_cap) {
    *hosts = *commits = 0;
    host_list[0] = commit_list[0] = '\0';
    for (int i = 0; i < set->count; i++)
        for (int s = 0; s < set->runs[i].n_seeds; s++) {
            const cJSON *root = set->runs[i].seeds[s];
            char commit[16];
            snprintf(commit, sizeof commit, "%.7s", records_str(root, "environment.git_commit", "unknown"));
            add_distinct(host_list, host_cap, hosts, records_str(root, "environment.cpu_model", "unknown"));
            add_distinct(commit_list, commit_cap, commits, commit);
        }
}

int records_command_start(const RecordsTool *tool, int *argc, char ***argv, RecordSet *set, Provenance *p) {
    int allow_mixed = *argc > 1 && tb_streq((*argv)[1], "--allow-mixed");
    if (allow_mixed) (*argv)++, (*argc)--;
    if (*argc < 3 || *argc > 3 + tool->extra) {
        fputs(tool->usage, stderr);
        return TB_EXIT_USAGE;
    }
    const char *dir = (*argv)[1], *prog = tool->prog, *verb = tool->verb;
    if (records_load(set, dir)) return tb_exit_runtime();
    if (set->count == 0) {
        fprintf(stderr, "%s: error: no run records under %s (run 'make exp-NAME STEPS=200' first, "
                        "or RECORDS=results/reference)\n", prog, dir);
        return TB_EXIT_RUNTIME;
    }
    records_provenance(set, &p->hosts, p->host_list, sizeof p->host_list, &p->commits, p->commit_list,
                       sizeof p->commit_list);
    if ((p->hosts > 1 || p->commits > 1) && !allow_mixed) {
        fprintf(stderr, "%s: error: the records under %s come from %d CPU models (%s) and %d commits (%s): "
                        "their times are not comparable; %s one host's and one commit's runs, or give "
                        "ALLOW_MIXED=1 to %s them with %s saying so\n",
                prog, dir, p->hosts, p->host_list, p->commits, p->commit_list, verb, verb, tool->shown);
        return TB_EXIT_RUNTIME;
    }
    return tb_mkdirs((*argv)[2]) ? tb_exit_runtime() : TB_COMMAND_GO_ON;
}

void records_load_sweeps(SweepSet *set, const char *dir) {
    size_t n;
    char **names = tb_list_dir(dir, ".json", &n);
    set->count = 0;
    for (size_t i = 0; i < n && set->count < MAX_EXPERIMENTS; i++) {
        char path[8600];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *text = tb_read_file(path, NULL);
        cJSON *root = text ? cJSON_Parse(text) : NULL;
        free(text);
        if (!records_str(root, "experiment", NULL) || !cJSON_IsArray(records_get(root, "runs")) ||
            !records_get(root, "rule")) {
            cJSON_Delete(root);  // not a sweep's JSON
            continue;
        }
        set->roots[set->count] = root;
        set->paths[set->count++] = tb_strdup(path);
    }
    tb_free_names(names, n);
}

void records_free_sweeps(SweepSet *set) {
    for (int i = 0; i < set->count; i++) cJSON_Delete(set->roots[i]), free(set->paths[i]);
    set->count = 0;
}
