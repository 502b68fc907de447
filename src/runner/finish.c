// finish.c: the end of a run that trained all its steps (see run.h).
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/common.h"
#include "measure.h"
#include "run.h"
#include "samples.h"
#include "signals.h"

typedef struct {
    Run *run;
    const char *what;
} FinalTick;

// Between the passes of the inference timings and between sample tunes: the
// phase's progress, and whether a signal asks it to stop.
static int final_tick(void *ctx, int done, int total) {
    FinalTick *f = ctx;
    progress_status(&f->run->progress, 0, "%s: %d/%d", f->what, done, total);
    Run *run = f->run;
    if (run->fault_kill_final) raise(SIGKILL);  // tests: kill -9 in the final phase
    if (run->fault_stop_final && ++run->final_ticks == run->fault_stop_final) {
        // tests: a real SIGTERM at this tick, waited for until the signal thread has taken it
        kill(getpid(), SIGTERM);
        for (int i = 0; i < 1000 && !signals_stop_requested(); i++) usleep(1000);
    }
    return signals_stop_requested();
}

// A signal in the final phase: the training is done and checkpointed; the
// run is "interrupted" and a resume does the final phase again.
static RunEnd final_interrupted(Run *run, const char *what) {
    char line[1400];
    run->stop_signal = signals_stop_requested();
    snprintf(line, sizeof line, "stopped by signal %d during %s, after all training; finish it with: "
             "tunebench train --resume %s", run->stop_signal, what, run->run_dir);
    progress_note(&run->progress, "%s", line);
    record_set_status(&run->rec, "interrupted", line);
    return END_INTERRUPTED;
}

// Measurements of the trained model: inference timings and sample tunes.
// Each shows its progress and stops at a signal between its parts.
RunEnd run_final_phase(Run *run) {
    const ExperimentConfig *c = &run->cfg;
    if (signals_stop_requested()) return final_interrupted(run, "the final phase");
    double t0 = tb_now_seconds();
    int stopped = 0;
    if (c->inference_repeats > 0) {
        int32_t *prompt = tb_malloc(sizeof(int32_t) * (size_t)run->model->spec.max_seq_len);
        uint64_t have = loader_num_tokens(&run->val);
        for (int i = 0; i < run->model->spec.max_seq_len; i++) prompt[i] = run->val.tokens[i % have];
        progress_note(&run->progress, "measuring inference (prefill and per-token decode, %d repeats)",
                      c->inference_repeats);
        FinalTick ft = {run, "measuring inference, passes"};
        PhaseTick tick = {final_tick, &ft};
        cJSON *inf = measure_inference(run->model, prompt, c->inference_repeats, &tick, &stopped);
        free(prompt);
        run->final_s += tb_now_seconds() - t0;
        if (stopped) return final_interrupted(run, "the inference timings");
        if (!inf) return END_ERROR;
        record_set_section(&run->rec, "inference", inf);
    }
    if (c->sample_count > 0) {
        t0 = tb_now_seconds();
        progress_note(&run->progress, "sampling %d tunes of up to %d tokens", c->sample_count, c->sample_max_tokens);
        FinalTick ft = {run, "sampling, tunes"};
        PhaseTick tick = {final_tick, &ft};
        cJSON *samples = samples_generate(run->model, run->tok, c, &tick, &stopped);
        run->final_s += tb_now_seconds() - t0;
        if (stopped) return final_interrupted(run, "the samples");
        if (!samples) return END_ERROR;
        record_set_section(&run->rec, "samples", samples);
    }
    return END_COMPLETED;
}

// What a completed run ends with: its losses, its time and what to do next.
void run_closing_lines(Run *run, int last_step) {
    const cJSON *curve = record_section(&run->rec, "curve"), *val = record_section(&run->rec, "validation");
    const cJSON *last_row = cJSON_GetArrayItem(curve, cJSON_GetArraySize(curve) - 1);
    const cJSON *last_val = cJSON_GetArrayItem(val, cJSON_GetArraySize(val) - 1);
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(last_row, "train_loss");
    const cJSON *vl = cJSON_GetObjectItemCaseSensitive(last_val, "loss");
    const cJSON *vb = cJSON_GetObjectItemCaseSensitive(last_val, "bpb");
    char wall[32], best[1300] = "";
    progress_format_duration(run_wall_seconds(run), wall, sizeof wall);
    if (run->best_step >= 0)
        snprintf(best, sizeof best, "; best validation loss %.4f at step %d (%s)", run->best_loss, run->best_step,
                 run->best_dir);
    const char *reason = record_stop_reason(&run->rec);
    progress_note(&run->progress,
                  "completed %d steps%s in %s: training loss %.4f (step %d's batch), validation loss %.4f (%.4f bits "
                  "per byte)%s",
                  last_step, reason && tb_streq(reason, "patience") ? " (stopped by eval.patience)" : "", wall,
                  cJSON_IsNumber(tl) ? tl->valuedouble : NAN, last_step, cJSON_IsNumber(vl) ? vl->valuedouble : NAN,
                  cJSON_IsNumber(vb) ? vb->valuedouble : NAN, best);
    // The plots read a results folder (one subfolder per experiment) and
    // draw into its report/; generate takes the record (its best checkpoint,
    // which carries its tokenizer).
    progress_note(&run->progress, "record %s, checkpoint %s; next: tunebench check-record %s, "
                  "make plots tables RECORDS=%s (into %s/report/), tunebench generate --ckpt %s --out generated/%s",
                  run->record_path, run->run_dir, run->record_path, run->cfg.results_dir, run->cfg.results_dir,
                  run->record_path, run->run_id);
}
