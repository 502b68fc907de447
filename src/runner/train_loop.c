// train_loop.c: the training loop of `tunebench train` (train.c sets the run
// up): forward, backward and AdamW per step, a validation every eval.interval
// steps, a checkpoint every checkpoint.interval steps, and the record
// rewritten at each validation with its timing and memory sections.
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../data/shards.h"
#include "../../data/tokenizer.h"
#include "../../models/checkpoint.h"
#include "../../models/model.h"
#include "lib/common.h"
#include "../evaluate.h"
#include "best.h"
#include "config.h"
#include "dist.h"
#include "environment.h"
#include "eval_budget.h"
#include "intro.h"
#include "measure.h"
#include "progress.h"
#include "record.h"
#include "run_files.h"
#include "run.h"
#include "samples.h"
#include "signals.h"

// ---------------------------------------------------------------- evaluation

typedef struct {
    Run *run;
    int step;
} ValProgress;

static void show_val_progress(void *ctx, uint64_t done, uint64_t total) {
    const ValProgress *v = ctx;
    progress_status(&v->run->progress, 0, "validation at step %d: %llu/%llu windows", v->step,
                    (unsigned long long)done, (unsigned long long)total);
}

// Mean loss (nats per token) and bits per byte over the first eval.batches
// batches of sequential validation windows (all when 0): the same windows
// every time, computed by evaluate_tokens, as `tunebench eval` does.
int run_evaluate_val(Run *run, int step, double *loss, double *bpb, long long *tokens) {
    EvalOptions opt = {run->cfg.batch_size, run->cfg.seq_len,
                       (uint64_t)run->cfg.eval_batches * (uint64_t)run->cfg.batch_size};
    EvalResult res;
    ValProgress vp = {run, step};
    progress_status(&run->progress, step == 0, "validation at step %d: %llu windows of %d tokens%s", step,
                    (unsigned long long)run->plan.windows, run->cfg.seq_len, step == 0 ? " before the first step" : "");
    double t0 = tb_now_seconds();
    if (evaluate_tokens_progress(run->model, run->val.tokens, loader_num_tokens(&run->val), run->token_bytes, &opt,
                                 &res, show_val_progress, &vp))
        return -1;
    run->costs.eval_s += tb_now_seconds() - t0;
    run->costs.eval_windows += res.windows;
    *loss = res.loss;
    *bpb = res.bpb;
    *tokens = (long long)res.tokens;
    return 0;
}

// ---------------------------------------------------------------- record

double run_wall_seconds(const Run *run) { return run->wall_s_before + (tb_now_seconds() - run->t_start); }

// How much of the machine this segment had: its threads' share of the wall
// time they could have run (1 on idle cores), and the shares of all cores'
// time that other processes used and that the hypervisor took.
static cJSON *contention_json(const Run *run) {
    TbCpuSample now;
    tb_cpu_sample(&now);
    const TbCpuSample *was = &run->cpu_start;
    double wall = tb_now_seconds() - run->t_start;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "scope", "this segment");
    cJSON_AddNumberToObject(c, "threads", tb_num_threads());
    double used = now.process_s - was->process_s;
    cJSON_AddNumberToObject(c, "cpu_seconds", used);
    double util = wall > 0 ? used / (wall * tb_num_threads()) : NAN;
    cJSON_AddItemToObject(c, "cpu_utilisation", isfinite(util) ? cJSON_CreateNumber(util) : cJSON_CreateNull());
    double total = now.host_total_s - was->host_total_s;
    int host = now.host_ok && was->host_ok && total > 0;
    double other = host ? fmax(0, (now.host_busy_s - was->host_busy_s) - used) / total : NAN;
    double steal = host ? (now.host_steal_s - was->host_steal_s) / total : NAN;
    cJSON_AddItemToObject(c, "other_processes_share", host ? cJSON_CreateNumber(other) : cJSON_CreateNull());
    cJSON_AddItemToObject(c, "steal_share", host ? cJSON_CreateNumber(steal) : cJSON_CreateNull());
    return c;
}

static void update_timing(Run *run, int steps_done) {
    const Model *m = run->model;
    cJSON *t = cJSON_CreateObject();
    cJSON_AddNumberToObject(t, "steps_done", steps_done);
    double train_s = run->train_s_before + run->train_s;
    cJSON_AddNumberToObject(t, "train_seconds", train_s);
    cJSON_AddNumberToObject(t, "wall_seconds", run_wall_seconds(run));
    cJSON_AddNumberToObject(t, "eval_seconds", run->eval_s_before + run->eval_s);
    cJSON_AddNumberToObject(t, "checkpoint_seconds", run->ckpt_s_before + run->ckpt_s);
    cJSON_AddNumberToObject(t, "final_seconds", run->final_s);
    cJSON_AddItemToObject(t, "contention", contention_json(run));
    int skip = run->timed > 2 * TIMING_WARMUP_STEPS ? TIMING_WARMUP_STEPS : 0;
    int n = run->timed - skip;
    double median = NAN;
    if (n > 0) {
        double *copy = tb_malloc(sizeof(double) * (size_t)n);
        memcpy(copy, run->step_ms + skip, sizeof(double) * (size_t)n);
        median = tb_median(copy, n);
        free(copy);
    } else if (isfinite(run->median_before)) {
        // A segment without steps (a resume that only does the final phase)
        // keeps the step times of the segment before it.
        median = run->median_before;
        skip = run->skip_before;
        n = run->timed_before;
    }
    double tokens_per_step = (double)run->cfg.batch_size * run->cfg.seq_len;
    cJSON_AddItemToObject(t, "median_step_ms", isfinite(median) ? cJSON_CreateNumber(median) : cJSON_CreateNull());
    cJSON_AddItemToObject(t, "median_tokens_per_s",
                          isfinite(median) ? cJSON_CreateNumber(tokens_per_step / (median * 1e-3)) : cJSON_CreateNull());
    cJSON_AddNumberToObject(t, "warmup_steps_excluded", skip);
    cJSON_AddNumberToObject(t, "timed_steps", n > 0 ? n : 0);
    // Measured when this run did the protocol's steps, else projected from the median.
    double t100k = steps_done >= PROTOCOL_STEPS ? train_s * PROTOCOL_STEPS / steps_done : median * 1e-3 * PROTOCOL_STEPS;
    cJSON_AddItemToObject(t, "time_100k_steps_s", isfinite(t100k) ? cJSON_CreateNumber(t100k) : cJSON_CreateNull());
    cJSON_AddBoolToObject(t, "projected", steps_done < PROTOCOL_STEPS);
    // The same with the protocol's validations and checkpoints, at this run's measured cost of each.
    Eta proto;
    eta_protocol(&proto, &run->cfg, &run->plan, &run->costs, 0);
    cJSON_AddItemToObject(t, "time_100k_with_eval_s", isfinite(t100k) && run->costs.eval_windows
                                                          ? cJSON_CreateNumber(t100k + proto.eval_s + proto.ckpt_s)
                                                          : cJSON_CreateNull());
    record_set_section(&run->rec, "timing", t);

    cJSON *mem = cJSON_CreateObject();
    double pbytes = (double)m->params.num_params * sizeof(float);
    cJSON_AddNumberToObject(mem, "peak_rss_bytes", (double)environment_peak_rss_bytes());
    cJSON_AddNumberToObject(mem, "param_bytes", pbytes);
    cJSON_AddNumberToObject(mem, "grad_bytes", pbytes);
    cJSON_AddNumberToObject(mem, "optimizer_bytes", m->params.adam_m ? 2 * pbytes : 0);
    cJSON_AddNumberToObject(mem, "activation_bytes", (double)m->vt->activation_bytes(m));
    record_set_section(&run->rec, "memory", mem);
}

int run_write_record(Run *run, int steps_done) {
    update_timing(run, steps_done);
    if (record_write(&run->rec)) return -1;
    run->record_started = 1;
    return 0;
}

// The model and everything a resume needs, as of `step`, into dir.
int run_save_state(Run *run, const char *dir, int step) {
    TrainState ts;
    memset(&ts, 0, sizeof ts);
    snprintf(ts.run_id, sizeof ts.run_id, "%s", run->run_id);
    ts.step = step;
    rng_seed(&ts.rng, (uint64_t)run->cfg.seed);
    loader_get_state(&run->train, ts.data_state);
    ts.optim = run->optim;
    cJSON *cfg = config_to_json(&run->cfg);
    char *cfg_text = cJSON_PrintUnformatted(cfg);
    cJSON_Delete(cfg);
    ts.run_config = cfg_text;
    char vocab[1100];  // the checkpoint carries the tokenizer the run trained with
    snprintf(vocab, sizeof vocab, "%s/%s", run->cfg.data_dir, CORPUS_VOCAB);
    int rc = checkpoint_save(dir, run->model, &ts, vocab);
    free(cfg_text);
    return rc;
}

// The record first (with every curve row so far, naming this checkpoint),
// then the checkpoint: a crash between the two leaves a record that reaches
// past the checkpoint on disk, whose extra rows a resume redoes, never a
// checkpoint past its record (rows that a resume would lose).
static int save_checkpoint(Run *run, int step) {
    progress_status(&run->progress, 0, "writing the checkpoint of step %d", step);
    double t0 = tb_now_seconds();
    int previous = record_checkpoint_step(&run->rec);
    record_set_checkpoint(&run->rec, run->run_dir, step);
    if (run_write_record(run, step)) return -1;
    int rc = run_save_state(run, run->run_dir, step);
    run->ckpt_s += tb_now_seconds() - t0;
    if (rc != 0) record_set_checkpoint(&run->rec, run->run_dir, previous);  // the one still on disk
    if (rc == 0 && run->fault_kill_step == (uint64_t)step) raise(SIGKILL);  // tests: kill -9 right after it
    run->costs.ckpt_s += tb_now_seconds() - t0;
    run->costs.ckpts++;
    return rc;
}

// ---------------------------------------------------------------- the loop

RunEnd train_loop(Run *run, int *last_step) {
    const ExperimentConfig *c = &run->cfg;
    Model *m = run->model;
    const int B = c->batch_size, T = c->seq_len;
    const double tokens_per_step = (double)B * T;
    char line[1400];
    int eta_announced = 0;
    *last_step = run->start_step;
    for (int step = run->start_step + 1; step <= c->steps; step++) {
        double t0 = tb_now_seconds();
        loader_next_batch(&run->train, run->inputs, run->targets);
        dist_scatter_batch(m, run->inputs, run->targets);  // each MPI rank gets its rows (dist.h)
        m->vt->forward(m, run->inputs, run->targets, dist_local_rows(B), T);
        float loss = m->acts->loss;
        if (run->fault_nan_step == (uint64_t)step) loss = NAN;
        if (!isfinite(loss)) {
            snprintf(line, sizeof line, "non-finite training loss at step %d; the last good checkpoint is kept", step);
            progress_note(&run->progress, "%s", line);
            record_add_curve_row(&run->rec, step, loss, optim_lr_at(&run->optim, step), NAN, 0, 0);
            record_set_status(&run->rec, "diverged", line);
            record_set_stop_reason(&run->rec, "diverged");
            return END_DIVERGED;
        }
        model_zero_grad(m);
        m->vt->backward(m);
        dist_reduce_grads(m, &loss);  // the global batch's mean over the MPI ranks
        // A non-finite gradient would poison every parameter: check before the update.
        float norm = model_grad_norm(m);
        float lr = optim_lr_at(&run->optim, step);
        if (!isfinite(norm)) {
            snprintf(line, sizeof line, "non-finite gradient norm at step %d; the last good checkpoint is kept", step);
            progress_note(&run->progress, "%s", line);
            record_add_curve_row(&run->rec, step, loss, lr, norm, 0, 0);
            record_set_status(&run->rec, "diverged", line);
            record_set_stop_reason(&run->rec, "diverged");
            return END_DIVERGED;
        }
        model_adamw_step_norm(m, &run->optim, step, lr, norm);
        m->be->synchronize();
        double ms = 1e3 * (tb_now_seconds() - t0);
        run->step_ms[run->timed++] = ms;
        run->train_s += ms * 1e-3;
        *last_step = step;

        if (step % c->log_interval == 0 || step == c->steps || step == run->start_step + 1)
            record_add_curve_row(&run->rec, step, loss, lr, norm, ms, tokens_per_step / (ms * 1e-3));

        // The ETA from the median of the recent steps (after the warm-up
        // steps: robust to a slow step and following a change of load), with
        // the validations, checkpoints and final phase still to come.
        double eta = -1, tokens_per_s = tokens_per_step / (ms * 1e-3);
        if (run->timed > TIMING_WARMUP_STEPS) {
            int n = run->timed - TIMING_WARMUP_STEPS < ETA_RECENT_STEPS ? run->timed - TIMING_WARMUP_STEPS
                                                                        : ETA_RECENT_STEPS;
            memcpy(run->eta_scratch, run->step_ms + run->timed - n, sizeof(double) * (size_t)n);
            double per_step_s = 1e-3 * tb_median(run->eta_scratch, n);
            tokens_per_s = tokens_per_step / per_step_s;
            Eta left;
            eta_remaining(&left, c, &run->plan, &run->costs, step, per_step_s);
            eta = left.total_s;
            if (!eta_announced) {
                eta_announced = 1;
                eta_describe(line, sizeof line, c, &run->plan, &run->costs, step, per_step_s);
                progress_note(&run->progress, "%s", line);
            }
        }
        progress_step(&run->progress, step, loss, tokens_per_s, run_wall_seconds(run), eta);

        int stop = signals_stop_requested(), patience = 0;
        if (run->fault_stop_step == (uint64_t)step) stop = SIGTERM;
        int last = step == c->steps;
        if (step % c->eval_interval == 0 || last) {
            double te = tb_now_seconds(), vloss, vbpb;
            long long vtokens;
            if (run_evaluate_val(run, step, &vloss, &vbpb, &vtokens)) return END_ERROR;
            run->eval_s += tb_now_seconds() - te;
            record_add_validation_row(&run->rec, step, vloss, vbpb, run_wall_seconds(run), run->train_s_before + run->train_s,
                                      vtokens);
            int before = run->best_step;
            if (best_note_validation(run, step, vloss, vbpb)) return END_ERROR;
            progress_note(&run->progress, "step %d: validation loss %.4f, %.4f bits per byte%s", step, vloss, vbpb,
                          run->best_step != before ? " (best so far, saved)" : "");
            patience = c->eval_patience > 0 && run->evals_since_best >= c->eval_patience;
            if (!stop) stop = signals_stop_requested();  // a signal during the validation stops here
        }
        if (last) record_set_stop_reason(&run->rec, "steps_done");
        else if (patience) record_set_stop_reason(&run->rec, "patience");
        else if (stop) record_set_stop_reason(&run->rec, "signal");
        if (step % c->checkpoint_interval == 0 || last || stop || patience) {
            if (save_checkpoint(run, step)) return END_ERROR;  // writes the record too
        } else if (step % c->eval_interval == 0) {
            if (run_write_record(run, step)) return END_ERROR;
        }
        if (patience && !last) {
            progress_note(&run->progress, "stopping after step %d: %d validations without a new best (eval.patience "
                          "%d); the best is step %d, validation loss %.4f", step, run->evals_since_best,
                          c->eval_patience, run->best_step, run->best_loss);
            return END_COMPLETED;
        }
        if (stop) {
            run->stop_signal = stop;
            snprintf(line, sizeof line, "stopped by signal %d after step %d; resume with: tunebench train --resume %s",
                     stop, step, run->run_dir);
            progress_note(&run->progress, "%s", line);
            record_set_status(&run->rec, "interrupted", line);
            return END_INTERRUPTED;
        }
    }
    return END_COMPLETED;
}

