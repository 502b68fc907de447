// check_record.c: `tunebench check-record`, the schema check of run records
// from the command line (the end-to-end tests use it on every record they make).
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"
#include "schema.h"

static double number_at(const cJSON *r, const char *section, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, section), key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

// training.epochs (recorded since the runner states it; older records lack
// it) must be the steps' tokens over the training split's.
static int check_epochs(const char *path, const cJSON *r) {
    double epochs = number_at(r, "training", "epochs");
    if (isnan(epochs)) return 0;
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "training"), "config");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(cfg, "steps");
    double expect = cJSON_IsNumber(steps) ? steps->valuedouble * number_at(r, "training", "tokens_per_step") /
                                                number_at(r, "data", "train_tokens")
                                          : NAN;
    if (!(fabs(epochs - expect) <= 1e-9 * fabs(expect)))
        return tb_error("%s: training.epochs is %g, but %s steps of %g tokens over %g training tokens make %g", path,
                        epochs, cJSON_IsNumber(steps) ? "its" : "(missing)", number_at(r, "training", "tokens_per_step"),
                        number_at(r, "data", "train_tokens"), expect);
    return 0;
}

// A completed run has trained, validated, measured and sampled.
static int check_completed(const char *path) {
    char *text = tb_read_file(path, NULL);
    cJSON *r = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!r) return tb_error("%s: cannot read it as JSON", path);
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
        rc = check_epochs(path, r);
    cJSON_Delete(r);
    return rc;
}

int cmd_check_record(int argc, char **argv) {
    const char *schema = RECORD_SCHEMA_PATH;
    int completed = 0, files = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (tb_streq(argv[i], "--help") || tb_streq(argv[i], "-h")) {
            printf("usage: tunebench check-record [--schema FILE] [--completed] RECORD.json...\n"
                   "  Checks run records against %s (schema version 1).\n"
                   "  --completed  also require status completed, curve and validation rows and timings,\n"
                   "               and training.epochs (where recorded) to match the steps and the corpus.\n",
                   RECORD_SCHEMA_PATH);
            return 0;
        }
        if (tb_streq(argv[i], "--schema") && i + 1 < argc) {
            schema = argv[++i];
            continue;
        }
        if (tb_streq(argv[i], "--completed")) {
            completed = 1;
            continue;
        }
        files++;
        if (schema_validate_file(argv[i], schema) || (completed && check_completed(argv[i]))) {
            tb_report();
            bad++;
        } else {
            printf("%s: valid\n", argv[i]);
        }
    }
    if (files == 0) {
        fprintf(stderr, "tunebench: error: check-record needs at least one record file\n");
        return 2;
    }
    return bad ? 1 : 0;
}
