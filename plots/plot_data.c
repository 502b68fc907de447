// plot_data.c: extracts the data of the comparison plots from run records.
//
//   build/plot_data [--allow-mixed] RECORDS_DIR OUT_DIR
//   build/plot_data --sweeps SWEEP_DIR OUT_DIR
//
// Writes plain columns that the gnuplot scripts in plots/ read. Each
// experiment may have several seeds (records.h): curves are the mean over
// the seeds at the steps they all have, with the min and max as a band.
//   runs.gp             n_runs, exp<i>, label<i>, colour<i>, seeds<i> for i = 1..n_runs;
//                       have_decode, have_timing, have_throughput (run counts);
//                       max_seeds; time_label (what the time axis counts);
//                       provenance (empty, or the hosts and commits when they differ)
//   train_<exp>.dat     step, tokens, smoothed train loss: mean, min, max over seeds
//   val_<exp>.dat       step, tokens, val loss mean, bpb mean, bpb min, bpb max,
//                       minutes (mean), seeds
//   decode_<exp>.dat    position, decode milliseconds per token (mean over seeds)
//   timing.dat          index, label, hours for 100k steps (measured), (projected)
//   throughput.dat      index, label, training tokens/s, peak RSS in MiB (means)
//   sets.txt            experiment and label per line, in the figures' order
//                       (the music figure takes its sets in this order)
// With --sweeps: sweeps.gp (n_sweeps, sweep_exp<i>, sweep_label<i>,
// sweep_colour<i>) and sweep_<exp>.dat (lr, final bpb, best bpb; NaN for a
// diverged rate) from every SWEEP_DIR/<experiment>.json.
//
// A set of records from more than one CPU model or commit is refused (its
// times are not comparable) unless --allow-mixed is given; then every figure
// names the hosts and commits. Missing values (a run without inference yet)
// are left out, not invented.
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/command.h"
#include "lib/common.h"
#include "records.h"

// Debiased exponential moving average (TensorBoard's smoothing): rows are
// logged every few steps, and this keeps the trend without hiding the level.
#define SMOOTHING 0.9

typedef struct {
    AtomicFile af;
    FILE *fp;
} Out;

static Out *out_open(const char *dir, const char *name, const char *exp) {
    char path[1400];
    if (exp) snprintf(path, sizeof path, "%s/%s_%s.dat", dir, name, exp);
    else snprintf(path, sizeof path, "%s/%s", dir, name);
    Out *o = tb_calloc(1, sizeof *o);
    o->fp = atomic_open(&o->af, path);
    if (!o->fp) {
        tb_report();
        exit(1);
    }
    return o;
}

static void out_close(Out *o) {
    if (atomic_commit(&o->af)) {
        tb_report();
        exit(1);
    }
    free(o);
}

// Row i of seed s's array whose step is `step`, or NULL; rows are in step
// order, so the search starts from the previous hit (*cursor).
static const cJSON *row_at_step(const cJSON *rows, int *cursor, double step) {
    int n = cJSON_GetArraySize(rows);
    for (int i = *cursor; i < n; i++) {
        const cJSON *row = cJSON_GetArrayItem(rows, i);
        double s = records_num(row, "step");
        if (s == step) {
            *cursor = i + 1;
            return row;
        }
        if (s > step) break;
    }
    return NULL;
}

// The seconds a validation row is plotted at: training seconds when every
// record has them (train_s), else the wall clock since the start (elapsed_s).
static int use_train_s;
static double row_seconds(const cJSON *row) {
    return records_num(row, use_train_s ? "train_s" : "elapsed_s");
}

// Returns how many decode rows the record has.
static int write_curves(const Record *r, const char *out) {
    double per_step = records_num(r->root, "training.tokens_per_step");
    int n = r->n_seeds;

    // Training loss: each seed smoothed on its own, then combined per step.
    Out *o = out_open(out, "train", r->experiment);
    fprintf(o->fp, "# step tokens smoothed_train_loss_mean min max  (%s, %d seed(s))\n", r->path, n);
    double ema[MAX_SEEDS] = {0}, weight[MAX_SEEDS] = {0};
    int cursor[MAX_SEEDS] = {0};
    const cJSON *row;
    cJSON_ArrayForEach(row, records_get(r->root, "curve")) {
        double step = records_num(row, "step"), x[MAX_SEEDS];
        int all = 1;
        for (int s = 0; s < n; s++) {
            const cJSON *rs = s ? row_at_step(records_get(r->seeds[s], "curve"), &cursor[s], step) : row;
            double loss = rs ? records_num(rs, "train_loss") : NAN;
            if (!isfinite(loss)) {
                all = 0;
                continue;
            }
            ema[s] = SMOOTHING * ema[s] + (1 - SMOOTHING) * loss;
            weight[s] = SMOOTHING * weight[s] + (1 - SMOOTHING);
            x[s] = ema[s] / weight[s];
        }
        if (!all) continue;
        SeedStat st = seed_stat(x, n);
        fprintf(o->fp, "%.0f %.0f %.6f %.6f %.6f\n", step, step * per_step, st.mean, st.min, st.max);
    }
    out_close(o);

    o = out_open(out, "val", r->experiment);
    fprintf(o->fp, "# step tokens val_loss_mean bpb_mean bpb_min bpb_max minutes_mean seeds\n");
    memset(cursor, 0, sizeof cursor);
    cJSON_ArrayForEach(row, records_get(r->root, "validation")) {
        double step = records_num(row, "step"), loss[MAX_SEEDS], bpb[MAX_SEEDS], min[MAX_SEEDS];
        int all = 1;
        for (int s = 0; s < n && all; s++) {
            const cJSON *rs = s ? row_at_step(records_get(r->seeds[s], "validation"), &cursor[s], step) : row;
            loss[s] = rs ? records_num(rs, "loss") : NAN;
            bpb[s] = rs ? records_num(rs, "bpb") : NAN;
            min[s] = rs ? row_seconds(rs) / 60 : NAN;
            all = isfinite(loss[s]) && isfinite(bpb[s]);
        }
        if (!all) continue;
        SeedStat l = seed_stat(loss, n), b = seed_stat(bpb, n), m = seed_stat(min, n);
        fprintf(o->fp, "%.0f %.0f %.6f %.6f %.6f %.6f %.4f %d\n", step, step * per_step, l.mean, b.mean, b.min, b.max,
                m.mean, n);
    }
    out_close(o);

    o = out_open(out, "decode", r->experiment);
    fprintf(o->fp, "# position decode_ms (mean over seeds)\n");
    int rows = 0;
    memset(cursor, 0, sizeof cursor);
    cJSON_ArrayForEach(row, records_get(r->root, "inference.decode")) {
        double pos = records_num(row, "position"), ms[MAX_SEEDS];
        for (int s = 0; s < n; s++) {
            ms[s] = NAN;
            const cJSON *d;
            cJSON_ArrayForEach(d, records_get(r->seeds[s], "inference.decode")) {
                if (records_num(d, "position") == pos) ms[s] = records_num(d, "ms");
            }
        }
        SeedStat st = seed_stat(ms, n);
        if (st.n == 0) continue;
        fprintf(o->fp, "%.0f %.6f\n", pos, st.mean);
        rows++;
    }
    out_close(o);
    return rows;
}

// Does every validation row of every record carry its training seconds?
static int all_rows_have_train_s(const RecordSet *set) {
    for (int i = 0; i < set->count; i++)
        for (int s = 0; s < set->runs[i].n_seeds; s++) {
            const cJSON *row;
            cJSON_ArrayForEach(row, records_get(set->runs[i].seeds[s], "validation")) {
                if (!isfinite(records_num(row, "train_s"))) return 0;
            }
        }
    return 1;
}

// gnuplot string literal: double quotes escaped.
static void put_gp_string(FILE *fp, const char *s) {
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

static int sweeps(const char *dir, const char *out) {
    if (tb_mkdirs(out)) return -1;
    Out *gp = out_open(out, "sweeps.gp", NULL);
    fprintf(gp->fp, "# the learning-rate sweeps plotted (from %s)\n", dir);
    static SweepSet set;
    records_load_sweeps(&set, dir);
    int drawn = 0;
    for (int i = 0; i < set.count; i++) {
        const cJSON *root = set.roots[i];
        const char *exp = records_str(root, "experiment", NULL), *path = set.paths[i];
        char label[96];
        const char *arch = records_str(root, "arch", "");
        records_label_name(exp, arch, label, sizeof label);
        drawn++;
        fprintf(gp->fp, "sweep_exp%d = ", drawn);
        put_gp_string(gp->fp, exp);
        fprintf(gp->fp, "\nsweep_label%d = ", drawn);
        put_gp_string(gp->fp, label);
        double params = records_num(root, "num_params");  // the larger shade from ~30M, as records_colour
        int large = isfinite(params) && floor(log10(params) + 0.5) >= 8;
        fprintf(gp->fp, "\nsweep_colour%d = \"%s\"\n", drawn, records_colour_of(arch, large));
        Out *o = out_open(out, "sweep", exp);
        fprintf(o->fp, "# lr final_val_bpb best_val_bpb chosen  (%s; NaN: diverged or unfinished)\n", path);
        double chosen = records_num(root, "choice.lr");
        const cJSON *run;
        cJSON_ArrayForEach(run, records_get(root, "runs")) {
            double lr = records_num(run, "lr");
            int ok = strcmp(records_str(run, "status", ""), "completed") == 0;
            double fin = ok ? records_num(run, "final_val_bpb") : NAN, best = ok ? records_num(run, "best_val_bpb") : NAN;
            fprintf(o->fp, "%.6g %.6f %.6f %d\n", lr, fin, best, lr == chosen);
        }
        out_close(o);
    }
    records_free_sweeps(&set);
    fprintf(gp->fp, "n_sweeps = %d\n", drawn);
    out_close(gp);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && tb_streq(argv[1], "--sweeps")) return sweeps(argv[2], argv[3]) ? tb_exit_runtime() : TB_EXIT_OK;
    static const RecordsTool tool = {
        "plot_data", "usage: plot_data [--allow-mixed] RECORDS_DIR OUT_DIR\n       plot_data --sweeps SWEEP_DIR OUT_DIR\n",
        0, "plot", "every figure"};
    static RecordSet set;
    Provenance prov;
    int rc = records_command_start(&tool, &argc, &argv, &set, &prov);
    if (rc != TB_COMMAND_GO_ON) return rc;
    use_train_s = all_rows_have_train_s(&set);
    Out *runs = out_open(argv[2], "runs.gp", NULL);
    Out *timing = out_open(argv[2], "timing.dat", NULL);
    Out *thr = out_open(argv[2], "throughput.dat", NULL);
    Out *sets = out_open(argv[2], "sets.txt", NULL);
    fprintf(runs->fp, "# the runs plotted, one experiment each, its seeds averaged (from %s)\nn_runs = %d\n", argv[1],
            set.count);
    fprintf(timing->fp, "# index label hours_measured hours_projected steps_done (means over seeds)\n");
    fprintf(thr->fp, "# index label train_tokens_per_s peak_rss_mib (means over seeds)\n");
    int have_decode = 0, have_timing = 0, have_throughput = 0, max_seeds = 0;
    for (int i = 0; i < set.count; i++) {
        const Record *r = &set.runs[i];
        char label[64];
        records_label(r, label, sizeof label);
        if (r->n_seeds > max_seeds) max_seeds = r->n_seeds;
        fprintf(runs->fp, "exp%d = \"%s\"\nlabel%d = ", i + 1, r->experiment, i + 1);
        put_gp_string(runs->fp, label);
        fprintf(runs->fp, "\ncolour%d = \"%s\"\nseeds%d = %d\nsource%d = ", i + 1, records_colour(&set, i), i + 1,
                r->n_seeds, i + 1);
        put_gp_string(runs->fp, r->path);
        fprintf(runs->fp, "\n");
        fprintf(sets->fp, "%s\t%s\n", r->experiment, label);
        have_decode += write_curves(r, argv[2]) > 0;
        SeedStat t = records_seed_stat_path(r, "timing.time_100k_steps_s");
        const cJSON *proj = records_get(r->root, "timing.projected");
        int projected = !cJSON_IsFalse(proj);
        // Measured and projected hours go to separate columns, so that
        // gnuplot draws the projected bars in their own (hatched) style.
        have_timing += t.n > 0;
        if (t.n > 0)
            fprintf(timing->fp, projected ? "%d \"%s\" NaN %.4f %.0f\n" : "%d \"%s\" %.4f NaN %.0f\n", i, label,
                    t.mean / 3600, records_num(r->root, "timing.steps_done"));
        SeedStat tps = records_seed_stat_path(r, "timing.median_tokens_per_s");
        SeedStat rss = records_seed_stat_path(r, "memory.peak_rss_bytes");
        have_throughput += tps.n > 0 && rss.n > 0;
        if (tps.n > 0 && rss.n > 0)
            fprintf(thr->fp, "%d \"%s\" %.4f %.4f\n", i, label, tps.mean, rss.mean / (1024.0 * 1024.0));
    }
    // How many runs have each measurement: a figure without any says so
    // instead of failing (a run still training has no inference timings).
    fprintf(runs->fp, "have_decode = %d\nhave_timing = %d\nhave_throughput = %d\nmax_seeds = %d\n", have_decode,
            have_timing, have_throughput, max_seeds);
    fprintf(runs->fp, "time_label = \"%s\"\n",
            use_train_s ? "training time (minutes; validation and checkpoints excluded)"
                        : "wall-clock time (minutes; validation included: these records have no training seconds per validation)");
    fprintf(runs->fp, "provenance = ");
    char note[900] = "";
    if (prov.hosts > 1 || prov.commits > 1)
        snprintf(note, sizeof note, "mixed records, times not comparable: %d CPUs (%s), %d commits (%s)",
                 prov.hosts, prov.host_list, prov.commits, prov.commit_list);
    put_gp_string(runs->fp, note);
    fprintf(runs->fp, "\n");
    out_close(runs);
    out_close(timing);
    out_close(thr);
    out_close(sets);
    records_free(&set);
    return 0;
}
