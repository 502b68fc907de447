// best.c: see best.h.
#include "best.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "lib/common.h"
#include "run.h"

const char *run_checkpoint_choose(const char *arg, int want_best, char *out, size_t cap, const char **kind) {
    size_t n = strlen(arg);
    while (n > 1 && arg[n - 1] == '/') n--;  // RUN/ names the run as RUN does
    if (n > 5 && strncmp(arg + n - 5, ".json", 5) == 0) n -= 5;
    char best[4200];
    snprintf(best, sizeof best, "%.*s.best/model.safetensors", (int)n, arg);
    int has_best = tb_file_exists(best);
    if (want_best && has_best) snprintf(out, cap, "%.*s.best", (int)n, arg);
    else snprintf(out, cap, "%.*s", (int)n, arg);
    if (kind) *kind = want_best && has_best ? "best" : want_best ? "latest (no best)" : "latest";
    return out;
}

const char *run_checkpoint_for(const char *arg, char *out, size_t cap) {
    size_t n = strlen(arg);
    if (n <= 5 || strcmp(arg + n - 5, ".json") != 0) {
        snprintf(out, cap, "%s", arg);
        return out;
    }
    return run_checkpoint_choose(arg, 1, out, cap, NULL);
}

// identity.best: the best checkpoint's folder, step, loss and bpb, or null.
void best_record(Run *run) {
    cJSON *best = cJSON_CreateNull();
    if (run->best_step >= 0 && run->best_saved) {
        cJSON_Delete(best);
        best = cJSON_CreateObject();
        cJSON_AddStringToObject(best, "dir", run->best_dir);
        cJSON_AddNumberToObject(best, "step", run->best_step);
        cJSON_AddNumberToObject(best, "loss", run->best_loss);
        cJSON_AddNumberToObject(best, "bpb", run->best_bpb);
    }
    cJSON *id = record_section(&run->rec, "identity");
    if (cJSON_GetObjectItemCaseSensitive(id, "best")) cJSON_ReplaceItemInObjectCaseSensitive(id, "best", best);
    else cJSON_AddItemToObject(id, "best", best);
}

// After the validation of a step: a new lowest loss saves the best checkpoint
// (before the record names it: a crash between the two leaves a best folder
// that a resume finds newer than its record, and removes); otherwise one more
// validation without improvement.
int best_note_validation(Run *run, int step, double loss, double bpb) {
    if (step == 0) return 0;  // the initial weights are no candidate
    if (!(loss < run->best_loss)) {
        run->evals_since_best++;
        return 0;
    }
    progress_status(&run->progress, 0, "saving the best checkpoint (step %d)", step);
    double t0 = tb_now_seconds();
    int rc = run_save_state(run, run->best_dir, step);
    run->ckpt_s += tb_now_seconds() - t0;
    run->costs.ckpt_s += tb_now_seconds() - t0;
    run->costs.ckpts++;
    if (rc) return -1;
    if (run->fault_kill_best == (uint64_t)step) raise(SIGKILL);  // tests: kill -9 before the record names it
    run->best_step = step, run->best_loss = loss, run->best_bpb = bpb;
    run->evals_since_best = 0;
    run->best_saved = 1;
    best_record(run);
    return 0;
}

// A resumed run's best from its record's validation rows (up to the
// checkpoint it resumes from): the loss to beat and the validations since,
// as the uninterrupted run had them. A best folder of another step (saved
// after that checkpoint, before the record named it) is removed: the resumed
// run saves it again when it gets there, and until then the record names no
// best checkpoint.
int best_resume(Run *run) {
    run->best_step = -1, run->best_loss = INFINITY, run->evals_since_best = 0, run->best_saved = 0;
    for (const cJSON *row = record_section(&run->rec, "validation")->child; row; row = row->next) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(row, "step");
        const cJSON *lo = cJSON_GetObjectItemCaseSensitive(row, "loss");
        const cJSON *bp = cJSON_GetObjectItemCaseSensitive(row, "bpb");
        if (!cJSON_IsNumber(st) || st->valueint == 0 || st->valueint > run->start_step) continue;
        if (cJSON_IsNumber(lo) && lo->valuedouble < run->best_loss) {
            run->best_step = st->valueint, run->best_loss = lo->valuedouble;
            run->best_bpb = cJSON_IsNumber(bp) ? bp->valuedouble : NAN;
            run->evals_since_best = 0;
        } else {
            run->evals_since_best++;
        }
    }
    if (tb_dir_exists(run->best_dir)) {
        int64_t on_disk = -1;
        if (checkpoint_read_step(run->best_dir, &on_disk) == 0 && on_disk == run->best_step) {
            run->best_saved = 1;
        } else {
            tb_clear_error();
            if (tb_remove_flat_dir(run->best_dir)) return -1;
        }
    }
    best_record(run);
    return 0;
}
