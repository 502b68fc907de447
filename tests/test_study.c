// test_study.c: what the study's comparisons rest on, on synthetic records
// written by the test: the learning-rate sweep's choice (src/sweep.c: the
// lowest final validation bpb, diverged and unfinished runs never chosen,
// ties to the smaller rate), the grouping of an experiment's records by seed
// and the statistics over seeds (plots/records.c), whether two models differ
// by more than their spread, and the hosts and commits of a set.
#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/common.h"
#include "plots/records.h"
#include "src/sweep.h"
#include "test.h"

// ---------------------------------------------------------------- the sweep's rule

static SweepRun run_of(double lr, const char *status, int steps_done, double final_bpb) {
    SweepRun r;
    memset(&r, 0, sizeof r);
    r.lr = lr;
    snprintf(r.status, sizeof r.status, "%s", status);
    r.steps_done = steps_done;
    r.final_bpb = final_bpb;
    r.best_bpb = final_bpb;
    return r;
}

static void test_sweep_choice(void) {
    // The lowest final bpb wins; the diverged higher rate and a completed
    // run whose final bpb is NaN are never chosen, even though a NaN compares
    // as neither lower nor higher.
    SweepRun runs[] = {
        run_of(2.5e-4, "completed", 100, 2.40), run_of(5e-4, "completed", 100, 2.20),
        run_of(1e-3, "completed", 100, 2.10), run_of(2e-3, "completed", 100, NAN),
        run_of(4e-3, "diverged", 37, NAN),
    };
    int c = sweep_choose(runs, 5);
    CHECK(c == 2, "the lowest final bpb (lr 1e-3) is chosen, got index %d", c);
    CHECK(strcmp(runs[3].verdict, "diverged: not eligible") == 0, "a NaN final bpb counts as diverged: '%s'", runs[3].verdict);
    CHECK(strcmp(runs[4].verdict, "diverged: not eligible") == 0, "a diverged run is not eligible: '%s'", runs[4].verdict);
    CHECK(strcmp(runs[2].verdict, "chosen") == 0, "the chosen run says so: '%s'", runs[2].verdict);

    // A NaN first in the list does not poison the comparison.
    SweepRun nan_first[] = {run_of(1e-4, "completed", 100, NAN), run_of(2e-4, "completed", 100, 3.0),
                            run_of(4e-4, "completed", 100, 2.9)};
    c = sweep_choose(nan_first, 3);
    CHECK(c == 2, "with a NaN run first, the lowest finite bpb is still chosen, got %d", c);

    // Ties within SWEEP_TIE_BPB go to the smaller rate, whatever the order.
    SweepRun tie[] = {run_of(4e-3, "completed", 100, 2.0004), run_of(1e-3, "completed", 100, 2.0000),
                      run_of(2e-3, "completed", 100, 2.0008), run_of(5e-4, "completed", 100, 2.0020)};
    c = sweep_choose(tie, 4);
    CHECK(c == 1, "a tie within %g bpb goes to the smallest rate (1e-3), got %d", SWEEP_TIE_BPB, c);
    CHECK(strstr(tie[0].verdict, "tie") != NULL, "a tied rate is marked as a tie: '%s'", tie[0].verdict);
    CHECK(strcmp(tie[3].verdict, "eligible") == 0, "a rate outside the margin is only eligible: '%s'", tie[3].verdict);
    SweepRun beyond[] = {run_of(1e-3, "completed", 100, 2.0000), run_of(2e-3, "completed", 100, 1.9985)};
    c = sweep_choose(beyond, 2);
    CHECK(c == 1, "lower by more than the margin wins over a smaller rate, got %d", c);

    // Unfinished runs (interrupted, or short of the sweep's steps) are not chosen.
    SweepRun unfinished[] = {run_of(1e-3, "interrupted", 40, 1.5), run_of(2e-3, "short", 50, 1.6),
                             run_of(4e-3, "completed", 100, 2.5)};
    c = sweep_choose(unfinished, 3);
    CHECK(c == 2, "only the completed run is eligible, got %d", c);
    CHECK(strstr(unfinished[0].verdict, "interrupted at step 40") != NULL, "verdict names the status: '%s'",
          unfinished[0].verdict);

    SweepRun none[] = {run_of(1e-2, "diverged", 3, NAN), run_of(2e-2, "diverged", 2, NAN)};
    CHECK(sweep_choose(none, 2) == -1, "no eligible run: no choice");

    double grid[SWEEP_GRID_POINTS];
    sweep_grid(1e-3, SWEEP_GRID_POINTS, grid);
    CHECK(SWEEP_GRID_POINTS >= 5 && fabs(grid[0] - 2.5e-4) < 1e-12 && fabs(grid[2] - 1e-3) < 1e-12 &&
              fabs(grid[4] - 4e-3) < 1e-12,
          "the default grid is lr x 1/4 .. 4: %g %g %g", grid[0], grid[2], grid[4]);
}

// A record's status, steps and bpb, with a null last validation (diverged).
static void test_sweep_read_record(void) {
    const char *text =
        "{\"identity\": {\"status\": \"diverged\"}, \"timing\": {\"steps_done\": 30},"
        " \"validation\": [{\"step\": 0, \"bpb\": 4.0}, {\"step\": 10, \"bpb\": 3.1}, {\"step\": 20, \"bpb\": 3.3},"
        " {\"step\": 30, \"bpb\": null}]}";
    cJSON *rec = cJSON_Parse(text);
    SweepRun r;
    memset(&r, 0, sizeof r);
    sweep_read_record(&r, rec, 100);
    CHECK(strcmp(r.status, "diverged") == 0 && r.steps_done == 30, "status and steps read: %s %d", r.status, r.steps_done);
    CHECK(isnan(r.final_bpb), "a null final bpb reads as NaN: %g", r.final_bpb);
    CHECK(r.best_bpb == 3.1 && r.best_step == 10, "best bpb 3.1 at step 10: %g at %d", r.best_bpb, r.best_step);
    cJSON_Delete(rec);
    rec = cJSON_Parse("{\"identity\": {\"status\": \"completed\"}, \"timing\": {\"steps_done\": 60},"
                      " \"validation\": [{\"step\": 60, \"bpb\": 2.0}]}");
    sweep_read_record(&r, rec, 100);
    CHECK(strcmp(r.status, "short") == 0, "a completed run short of the sweep's steps is 'short': %s", r.status);
    cJSON_Delete(rec);
}

// ---------------------------------------------------------------- seeds

// Writes a minimal record: experiment, seed, lr, steps, the final validation
// bpb (NAN: null), the CPU and the commit, and the precision (NULL: no key,
// as in records from before it).
static void write_record_in(const char *dir, const char *exp, const char *run_id, int seed, double lr, int steps,
                            double final_bpb, const char *cpu, const char *commit, const char *precision) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, exp);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s.json", dir, exp, run_id);
    FILE *fp = fopen(path, "w");
    char bpb[32], prec[48] = "";
    if (precision) snprintf(prec, sizeof prec, ", \"precision\": \"%s\"", precision);
    if (isfinite(final_bpb)) snprintf(bpb, sizeof bpb, "%.6f", final_bpb);
    else snprintf(bpb, sizeof bpb, "null");
    fprintf(fp,
            "{\"schema_version\": 1, \"identity\": {\"experiment\": \"%s\", \"run_id\": \"%s\", \"status\": \"%s\","
            " \"started_at\": \"2026-01-01T00:00:%02dZ\"},"
            " \"environment\": {\"cpu_model\": \"%s\", \"git_commit\": \"%s\"},"
            " \"model\": {\"arch\": \"gpt2\", \"num_params\": 6000000},"
            " \"training\": {\"config\": {\"model\": \"gpt2-6m\", \"seed\": %d, \"steps\": 100, \"batch_size\": 8,"
            " \"seq_len\": 256, \"optimizer\": {\"lr\": %g}%s}, \"tokens_per_step\": 2048},"
            " \"validation\": [{\"step\": 0, \"loss\": 7.0, \"bpb\": 4.0}, {\"step\": 100, \"loss\": 2.0, \"bpb\": %s}],"
            " \"timing\": {\"steps_done\": %d, \"median_step_ms\": %d}}\n",
            exp, run_id, isfinite(final_bpb) ? "completed" : "diverged", seed % 60, cpu, commit, seed, lr, prec, bpb,
            steps, 500 + seed);
    fclose(fp);
}
static void write_record(const char *dir, const char *exp, const char *run_id, int seed, double lr, int steps,
                         double final_bpb, const char *cpu, const char *commit) {
    write_record_in(dir, exp, run_id, seed, lr, steps, final_bpb, cpu, commit, NULL);
}

// Seeds in another precision are another configuration (a record without
// the key trained in fp32), and a label names any precision but fp32.
static void test_precision(void) {
    char dir[] = "/tmp/tb_test_study_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    write_record_in(dir, "gpt2-6m", "a-s1", 1, 1e-3, 100, 1.0, "cpu A", "c1", NULL);
    write_record_in(dir, "gpt2-6m", "a-s2", 2, 1e-3, 100, 1.1, "cpu A", "c1", "fp32");
    write_record_in(dir, "gpt2-6m", "b-s3", 3, 1e-3, 100, 1.2, "cpu A", "c1", "bf16");
    write_record_in(dir, "gpt2-60m", "b-s1", 1, 2e-3, 100, 0.9, "cpu A", "c1", "bf16");
    static RecordSet set;
    CHECK(records_load(&set, dir) == 0, "records_load: %s", tb_last_error());
    const Record *small = NULL, *large = NULL;
    for (int i = 0; i < set.count; i++) {
        if (strcmp(set.runs[i].experiment, "gpt2-6m") == 0) small = &set.runs[i];
        if (strcmp(set.runs[i].experiment, "gpt2-60m") == 0) large = &set.runs[i];
    }
    CHECK(set.count == 2 && small && large, "two experiments, got %d", set.count);
    CHECK(small && small->n_seeds == 2, "gpt2-6m: the two fp32 seeds (one without the key) are kept and the bf16 "
          "one is left out; got %d seeds", small ? small->n_seeds : 0);
    char label[64] = "";
    if (small && large) {
        records_label(small, label, sizeof label);
        CHECK(strcmp(label, "GPT-2 6M") == 0 && strcmp(records_precision(small->root), "fp32") == 0,
              "an fp32 run's label is '%s' (%s)", label, records_precision(small->root));
        records_label(large, label, sizeof label);
        CHECK(strcmp(label, "GPT-2 60M bf16") == 0, "a bf16 run's label is '%s'", label);
    }
    records_free(&set);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

static void test_seeds(void) {
    char dir[] = "/tmp/tb_test_study_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    // Three seeds of the default rate, final bpb 1.0, 1.2 and 1.4 ...
    write_record(dir, "gpt2-6m", "a-s3", 3, 1e-3, 100, 1.4, "cpu A", "c1");
    write_record(dir, "gpt2-6m", "a-s1", 1, 1e-3, 100, 1.0, "cpu A", "c1");
    write_record(dir, "gpt2-6m", "a-s2", 2, 1e-3, 100, 1.2, "cpu A", "c1");
    // ... a shorter run of seed 2 (its completed 100-step run is the one kept) ...
    write_record(dir, "gpt2-6m", "b-s2", 2, 1e-3, 40, 9.9, "cpu A", "c1");
    // ... and a run at another rate, which is another configuration: left out.
    write_record(dir, "gpt2-6m", "c-s4", 4, 3e-3, 100, 0.5, "cpu A", "c1");
    // A second experiment of two seeds, one of them diverged (null bpb).
    write_record(dir, "mamba-6m", "a-s1", 1, 2e-3, 100, 0.9, "cpu A", "c1");
    write_record(dir, "mamba-6m", "a-s2", 2, 2e-3, 100, NAN, "cpu A", "c1");

    static RecordSet set;
    CHECK(records_load(&set, dir) == 0, "records_load: %s", tb_last_error());
    CHECK(set.count == 2, "two experiments, got %d", set.count);
    const Record *g = &set.runs[0];
    CHECK(strcmp(g->experiment, "gpt2-6m") == 0, "GPT-2 first (registry order), got %s", g->experiment);
    CHECK(g->n_seeds == 3, "gpt2-6m: three seeds of one configuration, got %d", g->n_seeds);
    CHECK(g->n_seeds == 3 && records_num(g->seeds[0], "training.config.seed") == 1 &&
              records_num(g->seeds[2], "training.config.seed") == 3 && g->root == g->seeds[0],
          "seeds in ascending order, root is the first");
    SeedStat st = records_seed_stat(g, records_final_bpb);
    CHECK(st.n == 3 && st.missing == 0, "n = 3, got %d (%d missing)", st.n, st.missing);
    CHECK(fabs(st.mean - 1.2) < 1e-9, "mean of 1.0, 1.2, 1.4 is 1.2, got %.9g", st.mean);
    CHECK(fabs(st.sd - 0.2) < 1e-9, "sample sd of 1.0, 1.2, 1.4 is 0.2, got %.9g", st.sd);
    CHECK(st.min == 1.0 && st.max == 1.4, "min 1.0 and max 1.4, got %g %g", st.min, st.max);
    SeedStat ms = records_seed_stat_path(g, "timing.median_step_ms");
    CHECK(fabs(ms.mean - 502) < 1e-9, "mean of 501, 502, 503 ms is 502, got %g", ms.mean);

    const Record *m = &set.runs[1];
    SeedStat sm = records_seed_stat(m, records_final_bpb);
    CHECK(sm.n == 1 && sm.missing == 1 && sm.mean == 0.9 && isnan(sm.sd),
          "a diverged seed is counted as missing, not as a value: n %d missing %d mean %g", sm.n, sm.missing, sm.mean);
    CHECK(seed_stat_separated(&st, &sm) == -1, "one seed: no spread, no claim");
    records_free(&set);

    double a[] = {1.0, 1.1, 1.2}, b[] = {1.15, 1.3, 1.4}, c[] = {1.3, 1.35, 1.4};
    SeedStat sa = seed_stat(a, 3), sb = seed_stat(b, 3), sc = seed_stat(c, 3);
    CHECK(seed_stat_separated(&sa, &sb) == 0, "overlapping min-max ranges: within the spread");
    CHECK(seed_stat_separated(&sa, &sc) == 1 && seed_stat_separated(&sc, &sa) == 1,
          "disjoint ranges: beyond the spread, either way round");
    double single[] = {NAN, 2.0, INFINITY};
    SeedStat s1 = seed_stat(single, 3);
    CHECK(s1.n == 1 && s1.missing == 2 && s1.mean == 2.0, "non-finite values are missing: n %d missing %d", s1.n, s1.missing);

    // Hosts and commits of a set: another CPU is counted.
    write_record(dir, "lstm-6m", "a-s1", 1, 2e-3, 100, 1.8, "cpu B", "c2");
    CHECK(records_load(&set, dir) == 0, "records_load");
    int hosts, commits;
    char hl[256], cl[256];
    records_provenance(&set, &hosts, hl, sizeof hl, &commits, cl, sizeof cl);
    CHECK(hosts == 2 && commits == 2, "two hosts and two commits, got %d and %d (%s; %s)", hosts, commits, hl, cl);
    CHECK(strcmp(hl, "cpu A; cpu B") == 0, "the hosts are named once each: '%s'", hl);
    records_free(&set);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(void) {
    test_sweep_choice();
    test_sweep_read_record();
    test_seeds();
    test_precision();
    return test_summary("test_study");
}
