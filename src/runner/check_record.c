// check_record.c: `tunebench check-record`, the schema check of run records
// from the command line (the end-to-end tests use it on every record they make).
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/command.h"
#include "lib/common.h"
#include "schema.h"
#include "models/model.h"

static double number_at(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

// The step after `prev` that the loop logs a curve row for: every
// log_interval-th step, the last step, and the first step of each segment
// (each start and resume). 0 when there is none.
static long long next_logged_step(long long prev, long long interval, long long steps, const cJSON *segments) {
    long long next = (prev / interval + 1) * interval;
    if (steps > prev && steps < next) next = steps;
    for (const cJSON *seg = segments ? segments->child : NULL; seg; seg = seg->next) {
        long long first = (long long)number_at(seg, "start_step") + 1;
        if (first > prev && first <= steps && first < next) next = first;
    }
    return next <= steps ? next : 0;
}

// The curve holds one row for every logged step, in order: no gaps (rows a
// crash or a resume lost) and no duplicates (rows a resume did twice).
static int check_curve_rows(const char *path, const cJSON *r) {
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "training"), "config");
    long long interval = (long long)number_at(cfg, "log_interval"), steps = (long long)number_at(cfg, "steps");
    if (interval < 1 || steps < 1) return tb_error("%s: training.config lacks log_interval or steps", path);
    const cJSON *identity = cJSON_GetObjectItemCaseSensitive(r, "identity");
    const cJSON *segments = cJSON_GetObjectItemCaseSensitive(identity, "segments");
    // A run that eval.patience stopped ends at its last checkpoint.
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(identity, "stop_reason");
    if (cJSON_IsString(reason) && strcmp(reason->valuestring, "patience") == 0) {
        long long at = (long long)number_at(identity, "checkpoint_step");
        if (at < 1 || at > steps)
            return tb_error("%s: stopped by patience, but its checkpoint_step is not within the run", path);
        steps = at;
    }
    long long want = next_logged_step(0, interval, steps, segments), prev = 0;
    for (const cJSON *row = cJSON_GetObjectItemCaseSensitive(r, "curve")->child; row; row = row->next) {
        long long step = (long long)number_at(row, "step");
        if (step <= prev)
            return tb_error("%s: curve row for step %lld follows step %lld (a duplicate or out of order)", path, step, prev);
        if (want == 0 || step > want)
            return tb_error("%s: the curve has no row for step %lld (rows jump from step %lld to %lld): rows were lost",
                            path, want ? want : steps, prev, step);
        if (step < want)
            return tb_error("%s: curve row for step %lld, which is not a logged step (every %lld steps, the last, "
                            "and the first of each segment)", path, step, interval);
        prev = step;
        want = next_logged_step(step, interval, steps, segments);
    }
    if (want) return tb_error("%s: the curve ends at step %lld; it has no row for step %lld", path, prev, want);
    prev = -1;
    for (const cJSON *row = cJSON_GetObjectItemCaseSensitive(r, "validation")->child; row; row = row->next) {
        long long step = (long long)number_at(row, "step");
        if (step <= prev)
            return tb_error("%s: validation row for step %lld follows step %lld (a duplicate or out of order)", path,
                            step, prev);
        prev = step;
    }
    return 0;
}

// r[section][key], or NaN where it is missing or not a number.
static double section_number(const cJSON *r, const char *section, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, section), key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

// training.epochs (recorded since the runner states it; older records lack
// it) must be the steps' tokens over the training split's.
static int check_epochs(const char *path, const cJSON *r) {
    double epochs = section_number(r, "training", "epochs");
    if (isnan(epochs)) return 0;
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "training"), "config");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(cfg, "steps");
    double expect = cJSON_IsNumber(steps) ? steps->valuedouble * section_number(r, "training", "tokens_per_step") /
                                                section_number(r, "data", "train_tokens")
                                          : NAN;
    if (!(fabs(epochs - expect) <= 1e-9 * fabs(expect)))
        return tb_error("%s: training.epochs is %g, but %s steps of %g tokens over %g training tokens make %g", path,
                        epochs, cJSON_IsNumber(steps) ? "its" : "(missing)", section_number(r, "training", "tokens_per_step"),
                        section_number(r, "data", "train_tokens"), expect);
    return 0;
}

// model.arch names an architecture of this build's registry (the schema
// leaves the list to models/architectures.def).
static int check_architecture(const char *path, const cJSON *r) {
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "model"), "arch");
    int rc = 0;
    if (!cJSON_IsString(arch) || !model_arch_find(arch->valuestring)) {
        char why[320];
        snprintf(why, sizeof why, "%s", cJSON_IsString(arch) ? tb_last_error() : "it is missing");
        rc = tb_error("%s: model.arch: %s", path, why);
    }
    return rc;
}

// A completed run has trained, validated, measured and sampled, its curve is
// whole, and its epochs follow from its steps.
static int check_completed(const char *path, const cJSON *r) {
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "identity"), "status");
    int rc = 0;
    if (!cJSON_IsString(status) || strcmp(status->valuestring, "completed") != 0)
        rc = tb_error("%s: status is %s, not completed", path, cJSON_IsString(status) ? status->valuestring : "missing");
    else if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "curve")) == 0)
        rc = tb_error("%s: a completed run with no curve rows", path);
    else if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "validation")) < 2)
        rc = tb_error("%s: a completed run with fewer than two validations", path);
    else if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "timing"),
                                                              "median_step_ms")))
        rc = tb_error("%s: a completed run with no median step time", path);
    else
        rc = check_curve_rows(path, r) ? -1 : check_epochs(path, r);
    return rc;
}

// What the schema leaves out: the architecture, and with --completed the
// completed run's own checks.
static int check_beyond_schema(const char *path, int completed) {
    char *text = tb_read_file(path, NULL);
    cJSON *r = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!r) return tb_error("%s: cannot read it as JSON", path);
    int rc = check_architecture(path, r) || (completed && check_completed(path, r)) ? -1 : 0;
    cJSON_Delete(r);
    return rc;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: tunebench check-record [--schema FILE] [--completed] RECORD.json...\n"
            "  Checks run records against %s (schema version 1).\n"
            "  --completed  also require status completed, validation rows, timings, a curve row for\n"
            "               every logged step (no gaps, no duplicates), and training.epochs (where\n"
            "               recorded) to match the steps and the corpus.\n",
            RECORD_SCHEMA_PATH);
}

int cmd_check_record(int argc, char **argv) {
    int completed = 0, nfiles = 0, bad = 0;
    const char *schema = RECORD_SCHEMA_PATH, **files = tb_calloc((size_t)argc + 1, sizeof *files);
    const TbOption opts[] = {TB_OPT("--schema", TB_OPT_STRING, &schema), TB_OPT("--completed", TB_OPT_TRUE, &completed),
                             {.name = NULL, .kind = TB_OPT_LIST, .dest = files, .seen = &nfiles, .max = argc}};
    int rc = tb_command_start(tb_parse_options("check-record", argc, argv, opts, TB_OPTIONS(opts)), usage);
    if (rc == TB_COMMAND_GO_ON && nfiles == 0)
        rc = (tb_error("check-record needs at least one record file"), tb_exit_usage());
    for (int i = 0; rc == TB_COMMAND_GO_ON && i < nfiles; i++) {
        if (schema_validate_file(files[i], schema) || check_beyond_schema(files[i], completed)) {
            tb_report();
            bad++;
        } else {
            printf("%s: valid\n", files[i]);
        }
    }
    free(files);
    if (rc != TB_COMMAND_GO_ON) return rc;
    return bad ? 1 : 0;
}
