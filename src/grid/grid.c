// grid.c: see grid.h.
#include "grid.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/common.h"
#include "../runner/run_files.h"

// Slurm resources of an experiment the grid does not size.
static const GridResources default_resources = {2, "4G", "24:00:00"};

// ---------------------------------------------------------------- reading

static const cJSON *member(const cJSON *obj, const char *key) { return cJSON_GetObjectItemCaseSensitive(obj, key); }

// Every key of obj must be one of `known` (NULL-terminated).
static int check_keys(const cJSON *obj, const char *const *known, const char *path, const char *where) {
    for (const cJSON *it = obj->child; it; it = it->next) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = tb_streq(*k, it->string);
        if (!ok) {
            char list[256] = "";
            for (const char *const *k = known; *k; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k == known ? "" : ", ", *k);
            return tb_error("%s: unknown key '%s%s' (a grid%s has: %s)", path, where, it->string,
                            where[0] ? " section" : "", list);
        }
    }
    return 0;
}

static int read_string(const cJSON *obj, const char *key, char *out, size_t cap, const char *path) {
    const cJSON *v = member(obj, key);
    if (!v) return 0;
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return tb_error("%s: key '%s': expected a non-empty string", path, key);
    if (strlen(v->valuestring) >= cap) return tb_error("%s: key '%s': longer than %zu characters", path, key, cap - 1);
    snprintf(out, cap, "%s", v->valuestring);
    return 0;
}

// A non-empty array of numbers (integers when `integer`) into a malloc'ed list.
static int read_numbers(const cJSON *obj, const char *key, int integer, double **out, int *n, const char *path) {
    const cJSON *a = member(obj, key);
    *out = NULL, *n = 0;
    if (!a) return 0;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
        return tb_error("%s: key '%s': expected a non-empty array of numbers, e.g. [1, 2, 3]", path, key);
    *n = cJSON_GetArraySize(a);
    *out = tb_malloc(sizeof(double) * (size_t)*n);
    int i = 0;
    for (const cJSON *v = a->child; v; v = v->next, i++) {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || (integer && v->valuedouble != floor(v->valuedouble)))
            return tb_error("%s: key '%s': item %d is not %s", path, key, i + 1, integer ? "an integer" : "a number");
        for (int j = 0; j < i; j++)
            if ((*out)[j] == v->valuedouble)
                return tb_error("%s: key '%s': %.17g appears twice; keep one", path, key, v->valuedouble);
        (*out)[i] = v->valuedouble;
    }
    return 0;
}

static int read_resources(const cJSON *obj, GridResources *res, const char *path, const char *name) {
    static const char *const keys[] = {"cpus", "mem", "time", NULL};
    char where[96];
    snprintf(where, sizeof where, "slurm.resources.%s.", name);
    if (!cJSON_IsObject(obj)) return tb_error("%s: key 'slurm.resources.%s': expected an object", path, name);
    if (check_keys(obj, keys, path, where)) return -1;
    const cJSON *cpus = member(obj, "cpus");
    if (cpus) {
        if (!cJSON_IsNumber(cpus) || cpus->valuedouble < 1 || cpus->valuedouble > 4096 ||
            cpus->valuedouble != floor(cpus->valuedouble))
            return tb_error("%s: key '%scpus': expected an integer from 1 to 4096", path, where);
        res->cpus = (int)cpus->valuedouble;
    }
    for (int i = 0; i < 2; i++) {
        const char *key = i ? "time" : "mem";
        const cJSON *v = member(obj, key);
        if (!v) continue;
        // Passed to #SBATCH lines as they are: no spaces or quotes.
        if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= sizeof res->mem ||
            strpbrk(v->valuestring, " \t\n'\"\\$`"))
            return tb_error("%s: key '%s%s': expected a Slurm value such as %s", path, where, key,
                            i ? "\"04:00:00\" or \"2-00:00:00\"" : "\"8G\"");
        snprintf(i ? res->time : res->mem, sizeof res->mem, "%s", v->valuestring);
    }
    return 0;
}

// "gpt2-6m" -> experiments/gpt2-6m.json; a path (with '/' or ".json") as it is.
static void config_path_of(const char *entry, char *out, size_t cap) {
    size_t n = strlen(entry);
    if (strchr(entry, '/') || (n > 5 && strcmp(entry + n - 5, ".json") == 0)) snprintf(out, cap, "%s", entry);
    else snprintf(out, cap, "experiments/%s.json", entry);
}

// A scalar JSON value as `--set` text.
static int scalar_text(const cJSON *v, char *out, size_t cap) {
    if (cJSON_IsString(v)) snprintf(out, cap, "%s", v->valuestring);
    else if (cJSON_IsNumber(v)) snprintf(out, cap, "%.17g", v->valuedouble);
    else return -1;
    return 0;
}

// ---------------------------------------------------------------- expansion

// Loads one experiment's config with everything the grid sets, as train would.
static int load_config(const Grid *g, ExperimentConfig *c, const char *config_path, const char *origin) {
    config_defaults(c);
    if (config_load(c, config_path)) {
        char msg[700];
        snprintf(msg, sizeof msg, "%s", tb_last_error());
        return tb_error("%s: experiment: %s", g->path, msg);
    }
    for (int i = 0; i < g->n_sets; i++) {
        char key[128];
        const char *eq = strchr(g->sets[i], '=');
        snprintf(key, sizeof key, "%.*s", (int)(eq - g->sets[i]), g->sets[i]);
        if (config_set(c, key, eq + 1, origin)) return -1;
    }
    char text[32];
    snprintf(text, sizeof text, "%d", g->steps);
    if (g->steps && config_set(c, "steps", text, origin)) return -1;
    if (g->backend[0] && config_set(c, "backend", g->backend, origin)) return -1;
    return 0;
}

static int add_run(Grid *g, const ExperimentConfig *base, const char *config_path, int64_t seed, const double *lr,
                   const char *precision, const GridResources *res, const char *origin) {
    if (g->n_runs == GRID_MAX_RUNS) return tb_error("%s: more than %d runs; split the grid", g->path, GRID_MAX_RUNS);
    ExperimentConfig c = *base;
    char text[64];
    snprintf(text, sizeof text, "%lld", (long long)seed);
    if (config_set(&c, "seed", text, origin)) return -1;
    if (precision && config_set(&c, "precision", precision, origin)) return -1;
    if (lr) {
        snprintf(text, sizeof text, "%.17g", *lr);
        if (config_set(&c, "optimizer.lr", text, origin)) return -1;
    }
    config_resolve(&c, NULL);
    if (config_check(&c)) return -1;
    GridRun *r = &g->runs[g->n_runs++];
    memset(r, 0, sizeof *r);
    // A precision other than the reference is in the name, so that the runs
    // of an fp32 and a bf16 grid can share a results folder.
    char prec[16] = "";
    if (!tb_streq(c.precision, PRECISION_DEFAULT_NAME)) snprintf(prec, sizeof prec, "-%s", c.precision);
    if (lr) snprintf(r->run_id, sizeof r->run_id, "%s%s-lr%g-s%lld", c.experiment, prec, *lr, (long long)seed);
    else snprintf(r->run_id, sizeof r->run_id, "%s%s-s%lld", c.experiment, prec, (long long)seed);
    if (run_id_check(r->run_id, g->path)) return -1;
    for (int i = 0; i < g->n_runs - 1; i++)
        if (tb_streq(g->runs[i].run_id, r->run_id))
            return tb_error("%s: two runs would be named %s (an experiment listed twice, or learning rates that "
                            "print alike with 6 digits)", g->path, r->run_id);
    snprintf(r->experiment, sizeof r->experiment, "%s", c.experiment);
    snprintf(r->config_path, sizeof r->config_path, "%s", config_path);
    snprintf(r->backend, sizeof r->backend, "%s", c.backend);
    snprintf(r->precision, sizeof r->precision, "%s", c.precision);
    r->seed = seed;
    r->lr = c.lr;
    r->lr_swept = lr != NULL;
    r->steps = c.steps;
    r->res = *res;
    return 0;
}

static int grid_parse(Grid *g, const cJSON *root) {
    static const char *const keys[] = {"name", "description", "results", "experiments", "seeds", "lrs",
                                       "precision", "steps", "backend", "set", "slurm", NULL};
    const char *path = g->path;
    if (!cJSON_IsObject(root)) return tb_error("%s: expected a JSON object at the top level", path);
    if (check_keys(root, keys, path, "")) return -1;
    if (read_string(root, "name", g->name, sizeof g->name, path)) return -1;
    if (!g->name[0]) {  // the file's name: grids/study.json -> study
        const char *base = strrchr(path, '/');
        snprintf(g->name, sizeof g->name, "%.63s", base ? base + 1 : path);
        char *dot = strstr(g->name, ".json");
        if (dot) *dot = '\0';
    }
    if (run_id_check(g->name, "grid name")) return -1;
    snprintf(g->results, sizeof g->results, "results/grids/%s", g->name);
    if (read_string(root, "results", g->results, sizeof g->results, path)) return -1;
    const cJSON *steps = member(root, "steps");
    if (steps && (!cJSON_IsNumber(steps) || steps->valuedouble < 1 || steps->valuedouble > 1e9 ||
                  steps->valuedouble != floor(steps->valuedouble)))
        return tb_error("%s: key 'steps': expected an integer from 1 to 1e9", path);
    g->steps = steps ? (int)steps->valuedouble : 0;
    if (read_string(root, "backend", g->backend, sizeof g->backend, path)) return -1;

    const cJSON *set = member(root, "set");
    if (set && !cJSON_IsObject(set))
        return tb_error("%s: key 'set': expected an object of config keys, e.g. {\"eval.batches\": 4}", path);
    for (const cJSON *it = set ? set->child : NULL; it; it = it->next) {
        char value[512];
        if (g->n_sets == GRID_MAX_SETS) return tb_error("%s: key 'set': more than %d keys", path, GRID_MAX_SETS);
        if (scalar_text(it, value, sizeof value))
            return tb_error("%s: key 'set.%s': expected a string or a number", path, it->string);
        if (tb_streq(it->string, "seed") || tb_streq(it->string, "optimizer.lr") || tb_streq(it->string, "steps") ||
            tb_streq(it->string, "backend") || tb_streq(it->string, "results") || tb_streq(it->string, "experiment"))
            return tb_error("%s: key 'set.%s': the grid sets this itself (use the grid's seeds, lrs, steps, backend "
                            "or results keys)", path, it->string);
        snprintf(g->sets[g->n_sets++], sizeof g->sets[0], "%s=%s", it->string, value);
    }

    const cJSON *slurm = member(root, "slurm");
    GridResources def = default_resources;
    const cJSON *resources = NULL;
    if (slurm) {
        static const char *const skeys[] = {"partition", "account", "resources", NULL};
        if (!cJSON_IsObject(slurm)) return tb_error("%s: key 'slurm': expected an object", path);
        if (check_keys(slurm, skeys, path, "slurm.")) return -1;
        if (read_string(slurm, "partition", g->partition, sizeof g->partition, path) ||
            read_string(slurm, "account", g->account, sizeof g->account, path))
            return -1;
        resources = member(slurm, "resources");
        if (resources && !cJSON_IsObject(resources))
            return tb_error("%s: key 'slurm.resources': expected an object of experiment name -> {cpus, mem, time}",
                            path);
        const cJSON *d = member(resources, "default");
        if (d && read_resources(d, &def, path, "default")) return -1;
    }

    const cJSON *exps = member(root, "experiments");
    if (!cJSON_IsArray(exps) || cJSON_GetArraySize(exps) == 0)
        return tb_error("%s: key 'experiments': expected a non-empty array of experiment names, e.g. [\"gpt2-6m\"]",
                        path);
    double *seeds = NULL, *lrs = NULL;
    int n_seeds = 0, n_lrs = 0, rc = -1;
    if (read_numbers(root, "seeds", 1, &seeds, &n_seeds, path) || read_numbers(root, "lrs", 0, &lrs, &n_lrs, path))
        goto done;
    // One precision per grid (a config key of every run; the backend refuses
    // one this machine lacks when the run starts). NULL: the configs' own.
    const char *precision = NULL;
    const cJSON *prec = member(root, "precision");
    if (prec) {
        if (!cJSON_IsArray(prec) || cJSON_GetArraySize(prec) != 1 || !cJSON_IsString(prec->child)) {
            tb_error("%s: key 'precision': expected a list of one precision, e.g. [\"fp32\"] (one of %s)", path,
                     precision_choices);
            goto done;
        }
        precision = prec->child->valuestring;
    }
    g->runs = tb_calloc(GRID_MAX_RUNS, sizeof *g->runs);
    char origin[600];
    snprintf(origin, sizeof origin, "%s", path);
    for (const cJSON *e = exps->child; e; e = e->next) {
        if (!cJSON_IsString(e) || !e->valuestring[0]) {
            tb_error("%s: key 'experiments': every item is an experiment name or a config path", path);
            goto done;
        }
        char config_path[512];
        config_path_of(e->valuestring, config_path, sizeof config_path);
        ExperimentConfig base;
        if (load_config(g, &base, config_path, origin)) goto done;
        GridResources res = def;
        const cJSON *own = member(resources, base.experiment);
        if (own && read_resources(own, &res, path, base.experiment)) goto done;
        for (int l = 0; l < (n_lrs ? n_lrs : 1); l++)
            for (int s = 0; s < (n_seeds ? n_seeds : 1); s++)
                if (add_run(g, &base, config_path, n_seeds ? (int64_t)seeds[s] : base.seed, n_lrs ? &lrs[l] : NULL,
                            precision, &res, origin))
                    goto done;
    }
    // A resources entry that names no experiment of the grid is a typo.
    for (const cJSON *it = resources ? resources->child : NULL; it; it = it->next) {
        int used = tb_streq(it->string, "default");
        for (int i = 0; i < g->n_runs && !used; i++) used = tb_streq(g->runs[i].experiment, it->string);
        if (!used) {
            tb_error("%s: key 'slurm.resources.%s': no experiment of the grid is named %s", path, it->string,
                     it->string);
            goto done;
        }
    }
    rc = 0;
done:
    free(seeds);
    free(lrs);
    return rc;
}

int grid_load(Grid *g, const char *path) {
    memset(g, 0, sizeof *g);
    snprintf(g->path, sizeof g->path, "%s", path);
    size_t len = 0;
    char *text = tb_read_file(path, &len);
    if (!text) return tb_error("cannot read the grid %s (the grids are in grids/)", path);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        int line = 1;
        for (const char *p = text; end && p < end; p++) line += *p == '\n';
        free(text);
        return tb_error("%s: invalid JSON near line %d", path, line);
    }
    free(text);
    int rc = grid_parse(g, root);
    cJSON_Delete(root);
    if (rc) grid_free(g);
    return rc;
}

void grid_free(Grid *g) {
    free(g->runs);
    g->runs = NULL;
    g->n_runs = 0;
}

// ---------------------------------------------------------------- run state

void grid_run_paths(const Grid *g, const GridRun *r, char *record, int record_cap, char *dir, int dir_cap) {
    snprintf(dir, (size_t)dir_cap, "%s/%s/%s", g->results, r->experiment, r->run_id);
    snprintf(record, (size_t)record_cap, "%s/%s/%s.json", g->results, r->experiment, r->run_id);
}

const char *grid_state_name(RunState s) {
    static const char *const names[] = {"pending", "running", "resumable", "restart", "completed", "diverged",
                                        "mismatch"};
    return names[s];
}

// Does a process hold the run's lock (run_files.h)? /proc/locks lists every
// flock() with its file's device and inode, so this asks without taking the
// lock: taking it even for a moment could make a run that starts just then
// fail to take it. Where /proc/locks cannot be read, the lock is tried.
static int lock_held(const char *dir) {
    char path[1300];
    snprintf(path, sizeof path, "%s.lock", dir);
    struct stat sb;
    if (stat(path, &sb) != 0) return 0;
    FILE *f = fopen("/proc/locks", "r");
    if (f) {
        char line[256];
        int held = 0;
        while (!held && fgets(line, sizeof line, f)) {
            unsigned maj, min;
            unsigned long long ino;
            char kind[16];
            // "1: FLOCK  ADVISORY  WRITE 4772 fe:00:10958188 0 EOF"
            if (sscanf(line, "%*[^:]: %15s %*s %*s %*d %x:%x:%llu", kind, &maj, &min, &ino) == 4 &&
                tb_streq(kind, "FLOCK") && ino == (unsigned long long)sb.st_ino && maj == major(sb.st_dev) &&
                min == minor(sb.st_dev))
                held = 1;
        }
        fclose(f);
        return held;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    int held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    if (!held) flock(fd, LOCK_UN);
    close(fd);
    return held;
}

static double number_at(const cJSON *root, const char *section, const char *key) {
    const cJSON *v = member(member(root, section), key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static double last_row(const cJSON *root, const char *array, const char *key) {
    const cJSON *a = member(root, array);
    const cJSON *row = a && a->child ? a->child->prev : NULL;  // cJSON keeps the last item in child->prev
    const cJSON *v = row ? member(row, key) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

void grid_run_status(const Grid *g, const GridRun *r, RunStatus *st) {
    char record[1200], dir[1200];
    grid_run_paths(g, r, record, sizeof record, dir, sizeof dir);
    memset(st, 0, sizeof *st);
    st->train_loss = st->val_bpb = NAN;
    if (lock_held(dir)) st->state = RUN_RUNNING;
    char *text = tb_file_exists(record) ? tb_read_file(record, NULL) : NULL;
    if (!text) {
        if (st->state != RUN_RUNNING) st->state = RUN_PENDING;
        tb_clear_error();
        return;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *cfg = member(member(root, "training"), "config");
    double lr = number_at(cfg, "optimizer", "lr");
    const cJSON *status = member(member(root, "identity"), "status");
    if (!root || !cfg || !cJSON_IsString(status)) {
        if (st->state != RUN_RUNNING) st->state = RUN_MISMATCH;
        snprintf(st->detail, sizeof st->detail, "%s is not a run record", record);
        cJSON_Delete(root);
        return;
    }
    st->steps_done = (int)number_at(root, "timing", "steps_done");
    st->train_loss = last_row(root, "curve", "train_loss");
    st->val_bpb = last_row(root, "validation", "bpb");
    st->tokens_per_step = number_at(root, "training", "tokens_per_step");
    const cJSON *seed = member(cfg, "seed"), *nsteps = member(cfg, "steps"), *prec = member(cfg, "precision");
    // Records from before the precision key trained in fp32.
    const char *precision = cJSON_IsString(prec) ? prec->valuestring : PRECISION_DEFAULT_NAME;
    if (!tb_streq(precision, r->precision)) {
        snprintf(st->detail, sizeof st->detail,
                 "%s trained in %s; the grid wants %s (remove the record and its folder, or give the grid another "
                 "results folder)", record, precision, r->precision);
        if (st->state != RUN_RUNNING) st->state = RUN_MISMATCH;
    } else if (!cJSON_IsNumber(seed) || (int64_t)seed->valuedouble != r->seed || !cJSON_IsNumber(nsteps) ||
        (int)nsteps->valuedouble != r->steps || (float)lr != (float)r->lr) {
        snprintf(st->detail, sizeof st->detail,
                 "%s has steps %g, seed %g, lr %g; the grid wants %d, %lld, %g (remove the record and its folder, or "
                 "give the grid another results folder)", record, cJSON_IsNumber(nsteps) ? nsteps->valuedouble : NAN,
                 cJSON_IsNumber(seed) ? seed->valuedouble : NAN, lr, r->steps, (long long)r->seed, r->lr);
        if (st->state != RUN_RUNNING) st->state = RUN_MISMATCH;
    } else if (st->state == RUN_RUNNING) {
    } else if (tb_streq(status->valuestring, "completed")) {
        st->state = RUN_COMPLETED;
    } else if (tb_streq(status->valuestring, "diverged")) {
        st->state = RUN_DIVERGED;
    } else {
        const cJSON *ck = member(member(root, "identity"), "checkpoint_step");
        st->state = cJSON_IsNumber(ck) && ck->valuedouble > 0 && tb_dir_exists(dir) ? RUN_RESUMABLE : RUN_RESTART;
    }
    cJSON_Delete(root);
}
