// sweep.c: `tunebench sweep`, the learning-rate sweep (see sweep.h).
//
// Each rate is trained by a child `tunebench train` process (this binary,
// /proc/self/exe), so that every sweep run is an ordinary run: its record,
// checkpoint, lock and resume behave as `make exp-NAME` ones do. A rate whose
// record exists is not trained again: a completed or diverged run is reused,
// an interrupted one is resumed. So an interrupted sweep continues where it
// stopped when the same command is given again.
#include "sweep.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/common.h"
#include "runner/config.h"

// ---------------------------------------------------------------- the rule

static const cJSON *get_path(const cJSON *node, const char *a, const char *b) {
    node = cJSON_GetObjectItemCaseSensitive(node, a);
    return b ? cJSON_GetObjectItemCaseSensitive(node, b) : node;
}

static double num_or_nan(const cJSON *v) { return cJSON_IsNumber(v) ? v->valuedouble : NAN; }

void sweep_read_record(SweepRun *run, const cJSON *record, int steps) {
    const cJSON *status = get_path(record, "identity", "status");
    snprintf(run->status, sizeof run->status, "%s", cJSON_IsString(status) ? status->valuestring : "unknown");
    double done = num_or_nan(get_path(record, "timing", "steps_done"));
    run->steps_done = isfinite(done) ? (int)done : 0;
    run->final_bpb = run->best_bpb = NAN;
    run->best_step = -1;
    const cJSON *rows = get_path(record, "validation", NULL), *row;
    cJSON_ArrayForEach(row, rows) {
        double bpb = num_or_nan(cJSON_GetObjectItemCaseSensitive(row, "bpb"));
        double step = num_or_nan(cJSON_GetObjectItemCaseSensitive(row, "step"));
        if (isfinite(bpb) && !(run->best_bpb <= bpb)) run->best_bpb = bpb, run->best_step = (int)step;
        run->final_bpb = bpb;  // the last row's, null (NAN) included
    }
    // An unfinished run is not one of the sweep's results yet.
    if (steps > 0 && run->steps_done < steps && strcmp(run->status, "completed") == 0)
        snprintf(run->status, sizeof run->status, "short");
}

int sweep_choose(SweepRun *runs, int n) {
    int best = -1;
    for (int i = 0; i < n; i++) {
        SweepRun *r = &runs[i];
        if (strcmp(r->status, "diverged") == 0 || (strcmp(r->status, "completed") == 0 && !isfinite(r->final_bpb))) {
            snprintf(r->verdict, sizeof r->verdict, "diverged: not eligible");
            continue;
        }
        if (strcmp(r->status, "completed") != 0) {
            snprintf(r->verdict, sizeof r->verdict, "%s at step %d: not eligible", r->status, r->steps_done);
            continue;
        }
        snprintf(r->verdict, sizeof r->verdict, "eligible");
        // Lower by more than the tie margin wins; within it, the smaller rate.
        if (best < 0 || r->final_bpb < runs[best].final_bpb - SWEEP_TIE_BPB ||
            (fabs(r->final_bpb - runs[best].final_bpb) <= SWEEP_TIE_BPB && r->lr < runs[best].lr))
            best = i;
    }
    if (best >= 0) {
        for (int i = 0; i < n; i++)
            if (i != best && strcmp(runs[i].verdict, "eligible") == 0 &&
                fabs(runs[i].final_bpb - runs[best].final_bpb) <= SWEEP_TIE_BPB)
                snprintf(runs[i].verdict, sizeof runs[i].verdict, "eligible; a tie with the chosen rate (within %g bpb)",
                         SWEEP_TIE_BPB);
        snprintf(runs[best].verdict, sizeof runs[best].verdict, "chosen");
    }
    return best;
}

void sweep_grid(double lr, int n_points, double *out) {
    for (int i = 0; i < n_points; i++) out[i] = lr * ldexp(1.0, i - n_points / 2);
}

// ---------------------------------------------------------------- the command

#define MAX_RATES 32
#define MAX_FORWARD 64

static void usage(FILE *out) {
    fprintf(out,
            "usage: tunebench sweep --config experiments/NAME.json --steps N [--lrs \"A B C ...\"] [train options]\n\n"
            "Trains NAME for N steps at each learning rate, one `tunebench train` run per rate\n"
            "(run id sweep-nN-lrLR-sSEED), and chooses one rate. Writes RESULTS/NAME.json\n"
            "(every rate, its run, final and best validation bits per byte, the rule and the\n"
            "choice) and prints how to train with it. Rates whose run exists are reused\n"
            "(completed or diverged) or resumed (interrupted).\n\n"
            "  --lrs \"A B ...\"    the rates (at least 2); default: the config's optimizer.lr\n"
            "                     times 1/4, 1/2, 1, 2, 4\n"
            "  --results DIR      where the runs and NAME.json go (default results/sweep)\n"
            "  other options      as `tunebench train` (--batch, --seed, --threads, --data,\n"
            "                     --backend, --precision, --set KEY=VALUE), passed to every run\n\n"
            "rule: %s.\n",
            SWEEP_RULE);
}

// Runs argv (this binary) and waits; returns its exit status, or 128 + the
// signal that ended it. This process ignores SIGINT and SIGTERM meanwhile, so
// that a ^C reaches the run (which checkpoints and exits) and the sweep then
// stops with its status.
static int run_child(char **argv) {
    fflush(stdout);
    fflush(stderr);
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old_int, old_term;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGINT, &ignore, &old_int);
    sigaction(SIGTERM, &ignore, &old_term);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execv("/proc/self/exe", argv);
        fprintf(stderr, "tunebench: error: sweep: cannot start 'tunebench train': %s\n", strerror(errno));
        _exit(127);
    }
    int status = 0, rc = 127;
    if (pid > 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc;
}

static cJSON *read_json(const char *path) {
    char *text = tb_read_file(path, NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    return root;
}

static void add_num_or_null(cJSON *obj, const char *key, double x) {
    if (isfinite(x)) cJSON_AddNumberToObject(obj, key, x);
    else cJSON_AddNullToObject(obj, key);
}

typedef struct {
    const char *config_path, *results;
    char *forward[MAX_FORWARD];  // train options passed to every run
    int n_forward;
    const char *threads;         // also given to a resumed run
    double lrs[MAX_RATES];
    int n_lrs;
    ExperimentConfig cfg;        // the config with the options applied
    char command[1024];
} Sweep;

static int parse_lrs(Sweep *s, const char *text) {
    char *end;
    const char *p = text;
    s->n_lrs = 0;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        double lr = strtod(p, &end);
        if (end == p || !(lr > 0) || !isfinite(lr) || (*end && *end != ' ' && *end != ','))
            return tb_error("sweep: --lrs '%s': '%s' is not a positive number (give rates like \"3e-4 1e-3 3e-3\")",
                            text, p);
        if (s->n_lrs == MAX_RATES) return tb_error("sweep: --lrs gives more than %d rates", MAX_RATES);
        s->lrs[s->n_lrs++] = lr;
        p = end;
    }
    if (s->n_lrs < 2) return tb_error("sweep: --lrs '%s' gives %d rate(s); a sweep needs at least 2 (5 or more log-spaced is usual)", text, s->n_lrs);
    for (int i = 0; i < s->n_lrs; i++)
        for (int j = i + 1; j < s->n_lrs; j++)
            if (s->lrs[i] > s->lrs[j]) {
                double t = s->lrs[i];
                s->lrs[i] = s->lrs[j], s->lrs[j] = t;
            }
    for (int i = 1; i < s->n_lrs; i++)
        if (s->lrs[i] == s->lrs[i - 1]) return tb_error("sweep: --lrs '%s' gives the rate %g twice", text, s->lrs[i]);
    return 0;
}

static int parse_args(Sweep *s, int argc, char **argv) {
    static const struct { const char *flag, *key; } flags[] = {
        {"--steps", "steps"}, {"--batch", "batch_size"}, {"--backend", "backend"}, {"--seed", "seed"},
        {"--threads", "threads"}, {"--data", "data"}, {"--precision", "precision"}, {"--set", NULL},
    };
    const char *lrs = NULL;
    s->results = "results/sweep";
    for (int i = 1; i < argc; i++)
        if (tb_streq(argv[i], "--config") && i + 1 < argc) s->config_path = argv[i + 1];
    if (!s->config_path) {
        usage(stderr);
        return tb_error("sweep: give --config experiments/NAME.json");
    }
    config_defaults(&s->cfg);
    if (config_load(&s->cfg, s->config_path)) return -1;
    int have_steps = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) return tb_error("sweep: option %s needs a value (see tunebench sweep --help)", a);
        const char *value = argv[++i];
        if (tb_streq(a, "--config")) continue;
        if (tb_streq(a, "--lrs")) {
            lrs = value;
            continue;
        }
        if (tb_streq(a, "--results")) {
            s->results = value;
            continue;
        }
        size_t f = 0;
        while (f < sizeof flags / sizeof flags[0] && !tb_streq(a, flags[f].flag)) f++;
        if (f == sizeof flags / sizeof flags[0])
            return tb_error("sweep: unknown option '%s' (see tunebench sweep --help; --run-id and --resume are the sweep's own)", a);
        char key[128];
        const char *v = value;
        if (flags[f].key) {
            snprintf(key, sizeof key, "%s", flags[f].key);
        } else {
            const char *eq = strchr(value, '=');
            if (!eq || eq == value) return tb_error("sweep: --set wants KEY=VALUE, got '%s'", value);
            snprintf(key, sizeof key, "%.*s", (int)(eq - value), value);
            v = eq + 1;
            if (tb_streq(key, "optimizer.lr"))
                return tb_error("sweep: --set optimizer.lr is what the sweep varies; give the rates with --lrs \"A B ...\"");
            if (tb_streq(key, "results")) return tb_error("sweep: give the folder with --results DIR, not --set results=");
        }
        if (config_set(&s->cfg, key, v, a)) return -1;
        if (tb_streq(key, "steps")) have_steps = 1;
        if (tb_streq(key, "threads")) s->threads = v;
        if (s->n_forward + 2 > MAX_FORWARD) return tb_error("sweep: too many options (at most %d)", MAX_FORWARD / 2);
        s->forward[s->n_forward++] = (char *)a;
        s->forward[s->n_forward++] = (char *)value;
    }
    if (!have_steps)
        return tb_error("sweep: give --steps N (make sweep-NAME STEPS=N): a sweep's runs are short; a few hundred steps is usual");
    if (lrs && parse_lrs(s, lrs)) return -1;
    if (lrs) {  // each rate within optimizer.lr's range, before any run starts
        ExperimentConfig check = s->cfg;
        for (int i = 0; i < s->n_lrs; i++) {
            char text[32];
            snprintf(text, sizeof text, "%.4g", s->lrs[i]);
            if (config_set(&check, "optimizer.lr", text, "--lrs")) return -1;
        }
        return 0;
    }
    s->n_lrs = SWEEP_GRID_POINTS;
    sweep_grid(s->cfg.lr, SWEEP_GRID_POINTS, s->lrs);
    return 0;
}

// The run id of one rate: the steps, the rate and the seed, and a hash of the
// other options when there are any, so that a run is reused only for the
// same settings.
static void run_id_of(const Sweep *s, const char *lr_text, char *out, size_t cap) {
    uint64_t h = TB_HASH64_SEED;
    int others = 0;
    for (int i = 0; i < s->n_forward; i += 2) {
        if (tb_streq(s->forward[i], "--steps") || tb_streq(s->forward[i], "--seed") ||
            tb_streq(s->forward[i], "--threads"))
            continue;
        h = tb_hash64(s->forward[i], strlen(s->forward[i]) + 1, h);
        h = tb_hash64(s->forward[i + 1], strlen(s->forward[i + 1]) + 1, h);
        others = 1;
    }
    int n = snprintf(out, cap, "sweep-n%d-lr%s-s%lld", s->cfg.steps, lr_text, (long long)s->cfg.seed);
    if (others && n > 0 && (size_t)n < cap) snprintf(out + n, cap - (size_t)n, "-o%06llx", (unsigned long long)(h & 0xffffff));
}

// Trains (or reuses, or resumes) one rate. 0, or the failed run's exit status.
static int sweep_one(Sweep *s, SweepRun *run, const char *lr_text) {
    char dir[1100], set_lr[64], steps[16];
    snprintf(dir, sizeof dir, "%s/%s/%s", s->results, s->cfg.experiment, run->run_id);
    snprintf(run->record, sizeof run->record, "%s.json", dir);
    snprintf(set_lr, sizeof set_lr, "optimizer.lr=%s", lr_text);
    snprintf(steps, sizeof steps, "%d", s->cfg.steps);
    char *argv[MAX_FORWARD + 20];
    int n = 0;
    argv[n++] = "tunebench";
    argv[n++] = "train";
    cJSON *existing = tb_file_exists(run->record) ? read_json(run->record) : NULL;
    const cJSON *status = existing ? get_path(existing, "identity", "status") : NULL;
    const char *st = cJSON_IsString(status) ? status->valuestring : "";
    if (existing && (tb_streq(st, "completed") || tb_streq(st, "diverged"))) {
        printf("sweep: lr %s: reusing %s (%s)\n", lr_text, run->record, st);
        cJSON_Delete(existing);
        return 0;
    }
    cJSON_Delete(existing);
    if (existing) {
        printf("sweep: lr %s: resuming %s\n", lr_text, dir);
        argv[n++] = "--resume";
        argv[n++] = dir;
        if (s->threads) argv[n++] = "--threads", argv[n++] = (char *)s->threads;
    } else {
        printf("sweep: lr %s: training %s\n", lr_text, run->run_id);
        argv[n++] = "--config", argv[n++] = (char *)s->config_path;
        argv[n++] = "--results", argv[n++] = (char *)s->results;
        argv[n++] = "--run-id", argv[n++] = run->run_id;
        argv[n++] = "--set", argv[n++] = set_lr;
        for (int i = 0; i < s->n_forward; i++) argv[n++] = s->forward[i];
    }
    argv[n] = NULL;
    int rc = run_child(argv);
    // 3: the run diverged, which is one of the sweep's results.
    return rc == 0 || rc == 3 ? 0 : rc;
}

static cJSON *summary_json(const Sweep *s, const SweepRun *runs, int chosen, const cJSON *first_record) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "experiment", s->cfg.experiment);
    cJSON_AddStringToObject(root, "config_file", s->config_path);
    cJSON_AddStringToObject(root, "model", s->cfg.model);
    const cJSON *arch = first_record ? get_path(get_path(first_record, "model", NULL), "arch", NULL) : NULL;
    if (cJSON_IsString(arch)) cJSON_AddStringToObject(root, "arch", arch->valuestring);
    else cJSON_AddNullToObject(root, "arch");
    const cJSON *params = first_record ? get_path(get_path(first_record, "model", NULL), "num_params", NULL) : NULL;
    if (cJSON_IsNumber(params)) cJSON_AddNumberToObject(root, "num_params", params->valuedouble);
    else cJSON_AddNullToObject(root, "num_params");
    cJSON_AddNumberToObject(root, "steps", s->cfg.steps);
    cJSON_AddNumberToObject(root, "seed", (double)s->cfg.seed);
    cJSON_AddNumberToObject(root, "config_lr", s->cfg.lr);
    cJSON_AddStringToObject(root, "command", s->command);
    cJSON_AddStringToObject(root, "rule", SWEEP_RULE);
    cJSON *arr = cJSON_AddArrayToObject(root, "runs");
    for (int i = 0; i < s->n_lrs; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "lr", runs[i].lr);
        cJSON_AddStringToObject(r, "run_id", runs[i].run_id);
        cJSON_AddStringToObject(r, "record", runs[i].record);
        cJSON_AddStringToObject(r, "status", runs[i].status);
        cJSON_AddNumberToObject(r, "steps_done", runs[i].steps_done);
        add_num_or_null(r, "final_val_bpb", runs[i].final_bpb);
        add_num_or_null(r, "best_val_bpb", runs[i].best_bpb);
        if (runs[i].best_step >= 0) cJSON_AddNumberToObject(r, "best_step", runs[i].best_step);
        else cJSON_AddNullToObject(r, "best_step");
        cJSON_AddStringToObject(r, "verdict", runs[i].verdict);
        cJSON_AddItemToArray(arr, r);
    }
    if (chosen < 0) {
        cJSON_AddNullToObject(root, "choice");
        cJSON_AddNullToObject(root, "carry");
    } else {
        cJSON *c = cJSON_AddObjectToObject(root, "choice");
        cJSON_AddNumberToObject(c, "lr", runs[chosen].lr);
        cJSON_AddStringToObject(c, "run_id", runs[chosen].run_id);
        cJSON_AddNumberToObject(c, "final_val_bpb", runs[chosen].final_bpb);
        cJSON_AddBoolToObject(c, "at_grid_edge", chosen == 0 || chosen == s->n_lrs - 1);
        char carry[256];
        snprintf(carry, sizeof carry, "make exp-%s TRAIN_FLAGS=\"--set optimizer.lr=%.4g\"", s->cfg.experiment,
                 runs[chosen].lr);
        cJSON_AddStringToObject(root, "carry", carry);
    }
    cJSON *env = cJSON_AddObjectToObject(root, "environment");
    const cJSON *e = first_record ? cJSON_GetObjectItemCaseSensitive(first_record, "environment") : NULL;
    const char *keys[] = {"cpu_model", "threads", "git_commit", "backend"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, keys[k]);
        cJSON_AddItemToObject(env, keys[k], v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
    }
    return root;
}

int cmd_sweep(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (tb_streq(argv[i], "--help") || tb_streq(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    static Sweep s;
    memset(&s, 0, sizeof s);
    if (parse_args(&s, argc, argv)) {
        tb_report();
        return 1;
    }
    size_t used = (size_t)snprintf(s.command, sizeof s.command, "tunebench sweep");
    for (int i = 1; i < argc && used < sizeof s.command; i++)
        used += (size_t)snprintf(s.command + used, sizeof s.command - used, " %s", argv[i]);

    SweepRun runs[MAX_RATES];
    memset(runs, 0, sizeof runs);
    printf("sweep: %s, %d steps at %d learning rates:", s.cfg.experiment, s.cfg.steps, s.n_lrs);
    for (int i = 0; i < s.n_lrs; i++) printf(" %.4g", s.lrs[i]);
    printf("\n");
    for (int i = 0; i < s.n_lrs; i++) {
        char lr_text[32];
        snprintf(lr_text, sizeof lr_text, "%.4g", s.lrs[i]);
        runs[i].lr = strtod(lr_text, NULL);  // exactly the rate the run trains with
        run_id_of(&s, lr_text, runs[i].run_id, sizeof runs[i].run_id);
        int rc = sweep_one(&s, &runs[i], lr_text);
        if (rc) {
            fprintf(stderr, "tunebench: error: sweep: the run for lr %s stopped with exit status %d (its output is above; "
                            "record %s); fix it and give the same command again: finished rates are reused\n",
                    lr_text, rc, runs[i].record);
            return rc;
        }
    }
    cJSON *first = NULL;
    for (int i = 0; i < s.n_lrs; i++) {
        cJSON *rec = read_json(runs[i].record);
        if (!rec) {
            fprintf(stderr, "tunebench: error: sweep: cannot read the record %s of lr %.4g; give the same command again\n",
                    runs[i].record, runs[i].lr);
            cJSON_Delete(first);
            return 1;
        }
        sweep_read_record(&runs[i], rec, s.cfg.steps);
        if (!first) first = rec;
        else cJSON_Delete(rec);
    }
    int chosen = sweep_choose(runs, s.n_lrs);
    char out[1200];
    snprintf(out, sizeof out, "%s/%s.json", s.results, s.cfg.experiment);
    cJSON *summary = summary_json(&s, runs, chosen, first);
    cJSON_Delete(first);
    int rc = tb_json_write(out, summary);
    printf("sweep: %s, final validation bits per byte after %d steps:\n", s.cfg.experiment, s.cfg.steps);
    for (int i = 0; i < s.n_lrs; i++)
        printf("  lr %-9.4g %8.4f  %s\n", runs[i].lr, runs[i].final_bpb, runs[i].verdict);
    if (rc) {
        cJSON_Delete(summary);
        tb_report();
        return 1;
    }
    printf("sweep: wrote %s\n", out);
    if (chosen < 0) {
        cJSON_Delete(summary);
        fprintf(stderr, "tunebench: error: sweep: no rate of %s finished without diverging; try lower rates "
                        "(LRS=\"...\" or --lrs) or more steps\n", s.cfg.experiment);
        return 1;
    }
    printf("sweep: chose lr %.4g by the rule: %s\n", runs[chosen].lr, SWEEP_RULE);
    if (chosen == 0 || chosen == s.n_lrs - 1)
        printf("sweep: warning: the chosen rate is at the edge of the grid; a rate beyond it may be better: extend the grid (LRS=\"...\")\n");
    printf("sweep: train with it: %s\n", cJSON_GetObjectItemCaseSensitive(summary, "carry")->valuestring);
    cJSON_Delete(summary);
    return 0;
}
