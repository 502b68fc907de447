// plot_data.c: extracts the data of the comparison plots from run records.
//
//   build/plot_data RECORDS_DIR OUT_DIR
//
// Writes plain columns that the gnuplot scripts in plots/ read:
//   runs.gp             n_runs, exp<i>, label<i> and colour<i> for i = 1..n_runs, and
//                       have_decode, have_timing, have_throughput (run counts)
//   train_<exp>.dat     step, train loss, smoothed train loss
//   val_<exp>.dat       step, validation loss, bits per byte, elapsed minutes
//   decode_<exp>.dat    position, decode milliseconds per token
//   timing.dat          index, label, hours for 100k steps (measured), (projected)
//   throughput.dat      index, label, training tokens/s, peak RSS in MiB
// Missing values (a run without inference yet) are left out, not invented.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "records.h"

// Debiased exponential moving average (TensorBoard's smoothing): rows are
// logged every few steps, and this keeps the trend without hiding the level.
#define SMOOTHING 0.9

static FILE *open_out(const char *dir, const char *name, const char *exp) {
    char path[1400];
    if (exp) snprintf(path, sizeof path, "%s/%s_%s.dat", dir, name, exp);
    else snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    if (!fp) tb_die("cannot write %s", path);
    return fp;
}

// Returns how many decode rows the record has.
static int write_curves(const Record *r, const char *out) {
    FILE *fp = open_out(out, "train", r->experiment);
    fprintf(fp, "# step train_loss smoothed  (%s)\n", r->path);
    double ema = 0, weight = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, records_get(r->root, "curve")) {
        double step = records_num(row, "step"), loss = records_num(row, "train_loss");
        if (!isfinite(loss)) continue;
        ema = SMOOTHING * ema + (1 - SMOOTHING) * loss;
        weight = SMOOTHING * weight + (1 - SMOOTHING);
        fprintf(fp, "%.0f %.6f %.6f\n", step, loss, ema / weight);
    }
    fclose(fp);

    fp = open_out(out, "val", r->experiment);
    fprintf(fp, "# step val_loss bpb elapsed_min\n");
    cJSON_ArrayForEach(row, records_get(r->root, "validation")) {
        double loss = records_num(row, "loss"), bpb = records_num(row, "bpb");
        if (!isfinite(loss) || !isfinite(bpb)) continue;
        fprintf(fp, "%.0f %.6f %.6f %.4f\n", records_num(row, "step"), loss, bpb, records_num(row, "elapsed_s") / 60);
    }
    fclose(fp);

    fp = open_out(out, "decode", r->experiment);
    fprintf(fp, "# position decode_ms\n");
    int rows = 0;
    cJSON_ArrayForEach(row, records_get(r->root, "inference.decode")) {
        fprintf(fp, "%.0f %.6f\n", records_num(row, "position"), records_num(row, "ms"));
        rows++;
    }
    fclose(fp);
    return rows;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: plot_data RECORDS_DIR OUT_DIR\n");
        return 2;
    }
    RecordSet set;
    if (records_load(&set, argv[1]) || tb_mkdirs(argv[2])) {
        tb_report();
        return 1;
    }
    if (set.count == 0) {
        fprintf(stderr, "plot_data: error: no run records under %s (run 'make exp-NAME STEPS=200' first, "
                        "or RECORDS=results/reference)\n", argv[1]);
        return 1;
    }
    FILE *runs = open_out(argv[2], "runs.gp", NULL);
    FILE *timing = open_out(argv[2], "timing.dat", NULL);
    FILE *thr = open_out(argv[2], "throughput.dat", NULL);
    fprintf(runs, "# the runs plotted, one record per experiment (from %s)\nn_runs = %d\n", argv[1], set.count);
    fprintf(timing, "# index label hours_measured hours_projected steps_done\n");
    fprintf(thr, "# index label train_tokens_per_s peak_rss_mib\n");
    int have_decode = 0, have_timing = 0, have_throughput = 0;
    for (int i = 0; i < set.count; i++) {
        const Record *r = &set.runs[i];
        char label[64];
        records_label(r, label, sizeof label);
        fprintf(runs, "exp%d = \"%s\"\nlabel%d = \"%s\"\ncolour%d = \"%s\"\nsource%d = \"%s\"\n", i + 1,
                r->experiment, i + 1, label, i + 1, records_colour(&set, i), i + 1, r->path);
        have_decode += write_curves(r, argv[2]) > 0;
        double t = records_num(r->root, "timing.time_100k_steps_s") / 3600;
        const cJSON *proj = records_get(r->root, "timing.projected");
        int projected = !cJSON_IsFalse(proj);
        // Measured and projected hours go to separate columns, so that
        // gnuplot draws the projected bars in their own (hatched) style.
        have_timing += isfinite(t);
        if (isfinite(t))
            fprintf(timing, projected ? "%d \"%s\" NaN %.4f %.0f\n" : "%d \"%s\" %.4f NaN %.0f\n", i, label, t,
                    records_num(r->root, "timing.steps_done"));
        double tps = records_num(r->root, "timing.median_tokens_per_s");
        double rss = records_num(r->root, "memory.peak_rss_bytes") / (1024.0 * 1024.0);
        have_throughput += isfinite(tps) && isfinite(rss);
        if (isfinite(tps) && isfinite(rss)) fprintf(thr, "%d \"%s\" %.1f %.1f\n", i, label, tps, rss);
    }
    // How many runs have each measurement: a figure without any says so
    // instead of failing (a run still training has no inference timings).
    fprintf(runs, "have_decode = %d\nhave_timing = %d\nhave_throughput = %d\n", have_decode, have_timing,
            have_throughput);
    fclose(runs);
    fclose(timing);
    fclose(thr);
    records_free(&set);
    return 0;
}
