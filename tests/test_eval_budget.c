// test_eval_budget.c: the validation plan of a run (src/runner/eval_budget.h)
// and its ETA. Protocol-length runs keep their validations as configured; a
// short run's validations stay within eval.max_share of its compute, first by
// validating less often, then on fewer windows; the plan depends on counts
// only; the ETA counts what is left.
#include <cjson/cJSON.h>

#include "lib/common.h"
#include "../src/runner/config.h"
#include "../src/runner/eval_budget.h"
#include "../src/runner/intro.h"
#include "test.h"

// The default corpus's validation split: 214 windows of 256 tokens.
#define VAL_TOKENS 54756

// An experiments/*.json config (eval every 1000 steps on 32 batches of 8 x
// 256) shortened to `steps` and resolved as `tunebench train` does.
static ExperimentConfig config_for(int steps, int batch, cJSON *notes) {
    ExperimentConfig c;
    config_defaults(&c);
    c.steps = steps;
    c.batch_size = batch;
    c.eval_interval = 1000;
    c.eval_batches = 32;
    config_resolve(&c, notes);
    return c;
}

static double share(const ExperimentConfig *c, const EvalPlan *p) {
    double v = (double)p->validations * (double)p->windows;
    return v / (v + EVAL_WINDOWS_PER_TRAIN_SEQUENCE * c->batch_size * c->steps);
}

static int has_note(const cJSON *notes, const char *text) {
    for (const cJSON *n = notes->child; n; n = n->next)
        if (strstr(n->valuestring, text)) return 1;
    return 0;
}

static void test_counts(void) {
    CHECK(eval_count(100000, 1000) == 101, "protocol validations %d", eval_count(100000, 1000));
    CHECK(eval_count(50, 5) == 11, "50 steps every 5: %d", eval_count(50, 5));
    CHECK(eval_count(50, 25) == 3, "50 steps every 25: %d", eval_count(50, 25));
    CHECK(eval_count(10, 3) == 5, "10 steps every 3 (0, 3, 6, 9, 10): %d", eval_count(10, 3));
    CHECK(fabs(intro_epochs(100000, 2048, 967745) - 211.626) < 0.001, "protocol epochs of the default corpus %g",
          intro_epochs(100000, 2048, 967745));
    CHECK(intro_epochs(10, 2048, 0) == 0, "epochs of an empty split");
}

static void test_protocol_unchanged(void) {
    // The study's runs and the reference set's 6M runs validate on the whole split as configured.
    int lengths[] = {100000, 2000};
    for (int i = 0; i < 2; i++) {
        cJSON *notes = cJSON_CreateArray();
        ExperimentConfig c = config_for(lengths[i], 8, notes);
        int interval = c.eval_interval, batches = c.eval_batches;
        EvalPlan p;
        eval_budget_apply(&p, &c, VAL_TOKENS, 1000, notes);
        CHECK(!p.limited && c.eval_interval == interval && c.eval_batches == batches,
              "%d steps: the plan changed eval to every %d on %d batches", lengths[i], c.eval_interval, c.eval_batches);
        CHECK(p.windows == 214 && p.split_windows == 214, "%d steps: %llu of %llu windows", lengths[i],
              (unsigned long long)p.windows, (unsigned long long)p.split_windows);
        CHECK(!has_note(notes, "eval.max_share"), "%d steps: a budget note", lengths[i]);
        cJSON_Delete(notes);
    }
    ExperimentConfig c = config_for(100000, 8, NULL);
    EvalPlan p;
    eval_budget_apply(&p, &c, VAL_TOKENS, 1000, NULL);
    CHECK(p.validations == 101 && p.protocol_validations == 101, "protocol: %d validations", p.validations);
    CHECK(p.estimated_share < 0.01, "protocol: validation is %.3f of the compute", p.estimated_share);
}

static void test_short_runs(void) {
    // make exp-mamba-6m STEPS=50: three validations on whole batches of the first windows.
    cJSON *notes = cJSON_CreateArray();
    ExperimentConfig c = config_for(50, 8, notes);
    EvalPlan p;
    eval_budget_apply(&p, &c, VAL_TOKENS, 1000, notes);
    CHECK(p.limited && p.validations == 3 && c.eval_interval == 25, "50 steps: %d validations every %d",
          p.validations, c.eval_interval);
    CHECK(p.windows > 0 && p.windows < 214 && p.windows % 8 == 0 && p.windows == (uint64_t)c.eval_batches * 8,
          "50 steps: %llu windows in %d batches", (unsigned long long)p.windows, c.eval_batches);
    CHECK(share(&c, &p) <= 0.2 + 1e-12 && fabs(share(&c, &p) - p.estimated_share) < 1e-12,
          "50 steps: validation is %.3f of the compute", share(&c, &p));
    CHECK(p.configured_windows == 214 && p.protocol_validations == 101, "50 steps: the protocol's plan");
    // One note per key, from the config file's value, replacing config_resolve's.
    CHECK(has_note(notes, "eval.interval 1000 -> 25") && !has_note(notes, "eval.interval 1000 -> 5"),
          "50 steps: the interval note");
    CHECK(has_note(notes, "eval.batches 32 -> 12"), "50 steps: the batches note");
    cJSON_Delete(notes);

    // A 60M reference run (200 steps): fewer validations, each on the whole split.
    c = config_for(200, 8, NULL);
    eval_budget_apply(&p, &c, VAL_TOKENS, 1000, NULL);
    CHECK(p.limited && p.windows == 214 && p.validations >= 3 && p.validations < 11,
          "200 steps: %d validations of %llu windows", p.validations, (unsigned long long)p.windows);
    CHECK(share(&c, &p) <= 0.2 + 1e-12, "200 steps: validation is %.3f", share(&c, &p));
    CHECK(eval_count(200, c.eval_interval) == p.validations, "200 steps: the interval gives the count");

    // eval.max_share=1: as configured, however long validation takes.
    c = config_for(50, 8, NULL);
    c.eval_max_share = 1;
    eval_budget_apply(&p, &c, VAL_TOKENS, 1000, NULL);
    CHECK(!p.limited && c.eval_interval == 5 && c.eval_batches == 32 && p.validations == 11,
          "max_share 1: every %d on %d batches", c.eval_interval, c.eval_batches);

    // One step of batch 1: at least one batch, step 0 and the last.
    c = config_for(1, 1, NULL);
    eval_budget_apply(&p, &c, VAL_TOKENS, 1000, NULL);
    CHECK(c.eval_batches == 1 && p.validations == 2, "1 step: %d validations of %d batches", p.validations,
          c.eval_batches);

    // The same command plans the same way: the plan is a function of counts.
    ExperimentConfig a = config_for(50, 8, NULL), b = config_for(50, 8, NULL);
    EvalPlan pa, pb;
    eval_budget_apply(&pa, &a, VAL_TOKENS, 1000, NULL);
    eval_budget_apply(&pb, &b, VAL_TOKENS, 1000, NULL);
    CHECK(a.eval_interval == b.eval_interval && a.eval_batches == b.eval_batches, "two plans of one command differ");
}

static void test_resume_plan(void) {
    // A resumed run keeps its recorded plan: applying the budget again would
    // change nothing, and loading reads the protocol figures back.
    ExperimentConfig c = config_for(50, 8, NULL);
    EvalPlan p, q;
    eval_budget_apply(&p, &c, VAL_TOKENS, 1000, NULL);
    cJSON *training = cJSON_CreateObject();
    cJSON_AddItemToObject(training, "validation_plan", eval_plan_json(&p));
    eval_plan_load(&q, training, &c, VAL_TOKENS);
    CHECK(q.windows == p.windows && q.validations == p.validations && q.configured_windows == 214 &&
              q.protocol_eval_interval == 1000 && q.limited,
          "the loaded plan differs: %llu windows, %d validations, %llu configured", (unsigned long long)q.windows,
          q.validations, (unsigned long long)q.configured_windows);
    cJSON_Delete(training);
}

static void test_eta(void) {
    ExperimentConfig c = config_for(50, 8, NULL);
    EvalPlan p;
    eval_budget_apply(&p, &c, VAL_TOKENS, 1000, NULL);
    // After the step-0 validation of 96 windows in 9.6 s, no checkpoint yet.
    RunCosts k = {9.6, 96, 0, 0, 72e6, 0};
    Eta e;
    eta_remaining(&e, &c, &p, &k, 10, 1.0);
    CHECK(e.evals_left == 2 && e.ckpts_left == 1, "after step 10: %d validations and %d checkpoints left",
          e.evals_left, e.ckpts_left);
    CHECK(fabs(e.train_s - 40) < 1e-9 && fabs(e.eval_s - 2 * 96 * 0.1) < 1e-9, "after step 10: %g s training, %g s "
          "validation", e.train_s, e.eval_s);
    CHECK(e.ckpt_s > 0 && fabs(e.total_s - (e.train_s + e.eval_s + e.ckpt_s)) < 1e-9, "after step 10: total");
    // At step 25, before its own validation.
    eta_remaining(&e, &c, &p, &k, 25, 1.0);
    CHECK(e.evals_left == 2, "at step 25: %d validations left", e.evals_left);
    eta_remaining(&e, &c, &p, &k, 50, 1.0);
    CHECK(e.evals_left == 1 && e.ckpts_left == 1 && e.train_s == 0, "at the last step: %d, %d", e.evals_left,
          e.ckpts_left);
    // A measured checkpoint replaces the estimate.
    k.ckpt_s = 3, k.ckpts = 1;
    eta_remaining(&e, &c, &p, &k, 10, 1.0);
    CHECK(fabs(e.ckpt_s - 3) < 1e-9, "checkpoint estimate %g", e.ckpt_s);
    // The protocol: 100,000 steps, 101 validations of the whole split, 20 checkpoints.
    eta_protocol(&e, &c, &p, &k, 0.5);
    CHECK(e.evals_left == 101 && e.ckpts_left == 20 && fabs(e.train_s - 50000) < 1e-6 &&
              fabs(e.eval_s - 101 * 214 * 0.1) < 1e-6,
          "protocol: %d validations, %d checkpoints, %g s training, %g s validation", e.evals_left, e.ckpts_left,
          e.train_s, e.eval_s);
    // The final phase: 2 passes of prefills of 16 and 64 tokens and a decode
    // of 64, and 3 tunes of up to 64 tokens (the context caps max_tokens).
    c.inference_repeats = 1, c.sample_count = 3, c.sample_max_tokens = 100;
    k.context = 64;
    double per_token = 0.1 / c.seq_len;
    double expect = per_token * (2 * (ETA_PREFILL_TOKEN_COST * 80 + ETA_DECODE_TOKEN_COST * 64) +
                                 ETA_DECODE_TOKEN_COST * 3 * 64);
    eta_remaining(&e, &c, &p, &k, 10, 1.0);
    CHECK(fabs(e.final_s - expect) < 1e-9 && fabs(e.total_s - (e.train_s + e.eval_s + e.ckpt_s + e.final_s)) < 1e-9,
          "final phase: %g s, expected %g", e.final_s, expect);
    k.context = 0;
    // Before any validation the validation time is unknown, not made up.
    RunCosts none = {0, 0, 0, 0, 72e6, 0};
    eta_remaining(&e, &c, &p, &none, 10, 1.0);
    CHECK(isnan(eta_seconds_per_window(&none)) && e.eval_s == 0, "no validation yet: %g", e.eval_s);
}

int main(void) {
    test_counts();
    test_protocol_unchanged();
    test_short_runs();
    test_resume_plan();
    test_eta();
    return test_summary("test_eval_budget");
}
