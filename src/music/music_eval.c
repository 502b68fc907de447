// music_eval.c: reads a set of tunes, scores each one (music_metrics.h) and
// aggregates. Ratios are given two ways: micro (pooled over all bars or
// notes of the set) and macro (the mean of per-tune ratios), since a few long
// tunes would otherwise dominate.
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/common.h"
#include "music_eval.h"
#include "music_features.h"
#include "music_metrics.h"
#include "music_stats.h"

// ---------------------------------------------------------------- inputs
typedef struct {
    MusicTuneFn fn;
    void *ctx;
    const char *source;
    int index;
} SplitCtx;

static void split_one(const char *text, size_t len, void *vctx) {
    SplitCtx *s = vctx;
    s->fn(text, len, s->source, s->index++, s->ctx);
}

static int for_each_in_file(const char *path, const char *source, MusicTuneFn fn, void *ctx) {
    size_t len;
    char *text = tb_read_file(path, &len);
    if (!text) return -1;
    SplitCtx s = {fn, ctx, source, 0};
    int n = music_split_tunes(text, len, split_one, &s);
    free(text);
    return n;
}

int music_for_each_tune(const char *path, MusicTuneFn fn, void *ctx) {
    if (!tb_dir_exists(path)) {
        if (!tb_file_exists(path)) return tb_error("%s: no such file or folder of ABC tunes", path);
        return for_each_in_file(path, path, fn, ctx);
    }
    size_t count;
    char **names = tb_list_dir(path, ".abc", &count);
    if (!names) return tb_error("%s: cannot open the folder", path);
    int tunes = 0, rc = 0;
    for (size_t i = 0; i < count; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        int n = rc ? 0 : for_each_in_file(full, names[i], fn, ctx);
        if (n < 0) rc = -1;
        else tunes += n;
    }
    tb_free_names(names, count);
    if (rc) return -1;
    if (tunes == 0) return tb_error("%s: no tunes in *.abc files there", path);
    return tunes;
}

// ---------------------------------------------------------------- scoring
typedef struct {
    const MusicEvalOptions *opt;
    const NoveltyIndex *train;
    char tmp_dir[64];
    cJSON *tunes;
    TuneMetrics *m;
    double *features;     // MUSIC_FEATURE_TOTAL per tune with notes
    int num_featured;
    uint64_t **bar_hashes;  // per tune, for the diversity measures
    int n, cap;
    int failed;  // abc2midi could not run
} EvalCtx;

// Room for one more tune's metrics, features and bar hashes.
static void eval_grow(EvalCtx *c) {
    if (c->n < c->cap) return;
    c->cap = c->cap ? 2 * c->cap : 256;
    c->m = realloc(c->m, (size_t)c->cap * sizeof *c->m);
    c->features = realloc(c->features, (size_t)c->cap * MUSIC_FEATURE_TOTAL * sizeof *c->features);
    c->bar_hashes = realloc(c->bar_hashes, (size_t)c->cap * sizeof *c->bar_hashes);
    if (!c->m || !c->features || !c->bar_hashes) tb_die("out of memory scoring tunes");
}

// Keeps the tune's features and bar hashes (c->n is the tune's index).
static void eval_keep(EvalCtx *c, const MusicTune *t) {
    if (music_tune_features(t, c->features + (size_t)c->num_featured * MUSIC_FEATURE_TOTAL)) c->num_featured++;
    uint64_t *h = tb_malloc((size_t)(t->num_bars ? t->num_bars : 1) * sizeof *h);
    for (int b = 0; b < t->num_bars; b++) h[b] = music_bar_hash(t, b);
    c->bar_hashes[c->n] = h;
}

static void eval_free(EvalCtx *c) {
    for (int i = 0; i < c->n; i++) free(c->bar_hashes[i]);
    free(c->bar_hashes), free(c->features), free(c->m);
}

static cJSON *issues_json(const MusicTune *t) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < t->num_issues_kept; i++) {
        char line[200];
        snprintf(line, sizeof line, "%d:%d: %s", t->issues[i].line, t->issues[i].column,
                 t->issues[i].message);
        cJSON_AddItemToArray(a, cJSON_CreateString(line));
    }
    return a;
}

static double ratio(int num, int den) { return den > 0 ? (double)num / den : NAN; }

// cJSON prints NaN as null, which is what "not applicable" should read as.
static void add_number(cJSON *o, const char *name, double v) {
    if (isnan(v)) cJSON_AddNullToObject(o, name);
    else cJSON_AddNumberToObject(o, name, v);
}

static void score_one(const char *text, size_t len, const char *source, int index, void *vctx) {
    EvalCtx *c = vctx;
    if (c->failed || (c->opt->max_tunes && c->n >= c->opt->max_tunes)) return;
    MusicTune t;
    tune_parse(&t, text, len);
    TuneMetrics m;
    music_tune_metrics(&t, len, c->train, &m);
    music_control_adherence(text, len, &m);
    if (c->opt->use_abc2midi && music_run_abc2midi(text, len, c->tmp_dir, &m)) {
        c->failed = 1;
        tune_free(&t);
        return;
    }
    eval_grow(c);
    eval_keep(c, &t);
    c->m[c->n++] = m;

    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "source", source);
    cJSON_AddNumberToObject(o, "index", index);
    cJSON_AddStringToObject(o, "title", t.title);
    cJSON_AddStringToObject(o, "meter", t.meter);
    cJSON_AddStringToObject(o, "key", t.key);
    cJSON_AddBoolToObject(o, "checker_valid", m.checker_valid);
    cJSON_AddNumberToObject(o, "checker_errors", m.checker_errors);
    cJSON_AddNumberToObject(o, "checker_warnings", m.checker_warnings);
    cJSON_AddItemToObject(o, "checker_issues", issues_json(&t));
    if (m.abc2midi_run) {
        cJSON_AddBoolToObject(o, "abc2midi_valid", m.abc2midi_valid);
        cJSON_AddNumberToObject(o, "abc2midi_exit", m.abc2midi_exit);
        cJSON_AddNumberToObject(o, "abc2midi_errors", m.abc2midi_errors);
        cJSON_AddNumberToObject(o, "abc2midi_warnings", m.abc2midi_warnings);
    }
    cJSON_AddNumberToObject(o, "bars", m.bars);
    cJSON_AddNumberToObject(o, "bars_checked", m.bars_checked);
    cJSON_AddNumberToObject(o, "bars_consistent", m.bars_consistent);
    add_number(o, "bar_consistency", ratio(m.bars_consistent, m.bars_checked));
    cJSON_AddNumberToObject(o, "notes", m.notes);
    add_number(o, "key_consistency", ratio(m.notes_in_key, m.notes_key_checked));
    cJSON_AddNumberToObject(o, "pitch_class_entropy", m.pitch_class_entropy);
    cJSON_AddNumberToObject(o, "pitch_min", m.pitch_min);
    cJSON_AddNumberToObject(o, "pitch_max", m.pitch_max);
    cJSON_AddNumberToObject(o, "pitch_range", m.pitch_range);
    cJSON_AddNumberToObject(o, "abc_bytes", (double)m.abc_bytes);
    if (m.control_present == 1) {
        cJSON_AddBoolToObject(o, "control_s_match", m.control_s_match == 1);
        add_number(o, "control_b_match", ratio(m.control_b_match, m.control_b_total));
        add_number(o, "control_e_match", ratio(m.control_e_match, m.control_e_total));
    }
    if (c->train) {
        add_number(o, "bars_in_train", ratio(m.novelty_bars_in_train, m.novelty_bars));
        add_number(o, "spans4_in_train", ratio(m.novelty_spans_in_train, m.novelty_spans));
        cJSON_AddNumberToObject(o, "longest_copied_run", m.longest_copied_run);
        add_number(o, "nn_distance", m.nn_distance);
    }
    cJSON_AddNumberToObject(o, "sections", m.sections);
    cJSON_AddNumberToObject(o, "repeats", m.repeats);
    cJSON_AddNumberToObject(o, "parts", m.parts);
    cJSON_AddNumberToObject(o, "bars_repeated", m.bars_repeated);
    cJSON_AddItemToArray(c->tunes, o);
    tune_free(&t);
}

// ---------------------------------------------------------------- aggregates
static void add_stats(cJSON *parent, const char *name, const double *x, int n) {
    MusicStats s;
    music_stats(x, n, &s);
    cJSON *o = cJSON_AddObjectToObject(parent, name);
    add_number(o, "mean", s.mean);
    add_number(o, "std", s.std);
    add_number(o, "min", s.min);
    add_number(o, "median", s.median);
    add_number(o, "max", s.max);
    cJSON_AddNumberToObject(o, "n", s.n);
}

// Per-tune values of one quantity, for the distributions.
typedef enum { Q_BARS, Q_NOTES, Q_RANGE, Q_BYTES, Q_COUNT } Quantity;
static const char *quantity_names[Q_COUNT] = {"bars", "notes", "pitch_range", "abc_bytes"};

static double *quantity_values(const TuneMetrics *m, int n, Quantity q, int *count) {
    double *x = tb_malloc((size_t)(n ? n : 1) * sizeof *x);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (q == Q_BARS) x[k++] = m[i].bars;
        else if (q == Q_NOTES) x[k++] = m[i].notes;
        else if (q == Q_BYTES) x[k++] = (double)m[i].abc_bytes;
        else if (m[i].pitch_range >= 0) x[k++] = m[i].pitch_range;  // tunes with notes only
    }
    *count = k;
    return x;
}

static cJSON *summary_json(const TuneMetrics *m, int n, int with_abc2midi, int with_train) {
    cJSON *s = cJSON_CreateObject();
    long checker_valid = 0, a2m_valid = 0, a2m_err = 0, a2m_warn = 0, a2m_exit0 = 0;
    long checked = 0, consistent = 0, key_checked = 0, in_key = 0;
    long nov_bars = 0, nov_bars_in = 0, nov_spans = 0, nov_spans_in = 0;
    long cc_tunes = 0, cc_s = 0, cc_b = 0, cc_bt = 0, cc_e = 0, cc_et = 0;
    double bar_macro = 0, key_macro = 0, entropy = 0;
    int bar_macro_n = 0, key_macro_n = 0, entropy_n = 0;
    int pc_total[12] = {0};
    for (int i = 0; i < n; i++) {
        const TuneMetrics *t = &m[i];
        checker_valid += t->checker_valid;
        a2m_valid += t->abc2midi_valid, a2m_err += t->abc2midi_errors;
        a2m_warn += t->abc2midi_warnings, a2m_exit0 += t->abc2midi_run && t->abc2midi_exit == 0;
        checked += t->bars_checked, consistent += t->bars_consistent;
        if (t->bars_checked) bar_macro += (double)t->bars_consistent / t->bars_checked, bar_macro_n++;
        key_checked += t->notes_key_checked, in_key += t->notes_in_key;
        if (t->notes_key_checked) key_macro += (double)t->notes_in_key / t->notes_key_checked, key_macro_n++;
        if (t->notes) entropy += t->pitch_class_entropy, entropy_n++;
        for (int k = 0; k < 12; k++) pc_total[k] += t->pitch_class_count[k];
        nov_bars += t->novelty_bars, nov_bars_in += t->novelty_bars_in_train;
        nov_spans += t->novelty_spans, nov_spans_in += t->novelty_spans_in_train;
        if (t->control_present == 1) {
            cc_tunes++;
            cc_s += t->control_s_match == 1;
            cc_b += t->control_b_match, cc_bt += t->control_b_total;
            cc_e += t->control_e_match, cc_et += t->control_e_total;
        }
    }
    cJSON_AddNumberToObject(s, "tunes", n);
    add_number(s, "checker_valid_rate", n ? (double)checker_valid / n : NAN);
    if (with_abc2midi) {
        add_number(s, "abc2midi_valid_rate", n ? (double)a2m_valid / n : NAN);
        add_number(s, "abc2midi_exit0_rate", n ? (double)a2m_exit0 / n : NAN);
        add_number(s, "abc2midi_errors_per_tune", n ? (double)a2m_err / n : NAN);
        add_number(s, "abc2midi_warnings_per_tune", n ? (double)a2m_warn / n : NAN);
    }
    add_number(s, "bar_consistency", checked ? (double)consistent / checked : NAN);
    add_number(s, "bar_consistency_macro", bar_macro_n ? bar_macro / bar_macro_n : NAN);
    cJSON_AddNumberToObject(s, "bars_checked", (double)checked);
    add_number(s, "key_consistency", key_checked ? (double)in_key / key_checked : NAN);
    add_number(s, "key_consistency_macro", key_macro_n ? key_macro / key_macro_n : NAN);
    add_number(s, "pitch_class_entropy", entropy_n ? entropy / entropy_n : NAN);
    cJSON_AddNumberToObject(s, "pitch_class_entropy_pooled", music_entropy_bits(pc_total, 12));
    cJSON_AddNumberToObject(s, "control_tunes", (double)cc_tunes);
    if (cc_tunes) {
        add_number(s, "control_s_match", (double)cc_s / cc_tunes);
        add_number(s, "control_b_match", cc_bt ? (double)cc_b / cc_bt : NAN);
        add_number(s, "control_e_match", cc_et ? (double)cc_e / cc_et : NAN);
    }
    if (with_train) {
        add_number(s, "bars_in_train", nov_bars ? (double)nov_bars_in / nov_bars : NAN);
        add_number(s, "spans4_in_train", nov_spans ? (double)nov_spans_in / nov_spans : NAN);
    }
    for (int q = 0; q < Q_COUNT; q++) {
        int k;
        double *x = quantity_values(m, n, (Quantity)q, &k);
        add_stats(s, quantity_names[q], x, k);
        free(x);
    }
    return s;
}

// Diversity: each tune's mean edit distance to the others (into its
// metrics and its JSON object), and the set's distinct bars and 4-bar spans.
static void add_diversity(EvalCtx *c, cJSON *summary, cJSON *tunes) {
    double *sum = tb_calloc((size_t)(c->n ? c->n : 1), sizeof *sum);
    for (int i = 0; i < c->n; i++)
        for (int j = i + 1; j < c->n; j++) {
            double d = music_edit_distance(c->bar_hashes[i], c->m[i].bars, c->bar_hashes[j], c->m[j].bars);
            sum[i] += d, sum[j] += d;
        }
    cJSON *t = tunes ? tunes->child : NULL;
    for (int i = 0; i < c->n; i++, t = t ? t->next : NULL) {
        c->m[i].set_size = c->n;
        c->m[i].edit_distance_in_set = c->n > 1 ? sum[i] / (c->n - 1) : NAN;
        if (t) add_number(t, "edit_distance_in_set", c->m[i].edit_distance_in_set);
    }
    free(sum);
    HashSet64 bars, spans;
    hashset_init(&bars), hashset_init(&spans);
    long total_bars = 0, total_spans = 0;
    for (int i = 0; i < c->n; i++) {
        int nb = c->m[i].bars;
        for (int b = 0; b < nb; b++) hashset_add(&bars, c->bar_hashes[i][b]), total_bars++;
        for (int b = 0; b + MUSIC_SPAN <= nb; b++) {
            hashset_add(&spans, tb_hash64(c->bar_hashes[i] + b, MUSIC_SPAN * sizeof(uint64_t), TB_HASH64_SEED)),
                total_spans++;
        }
    }
    cJSON *d = cJSON_AddObjectToObject(summary, "diversity");
    add_number(d, "distinct_bars", total_bars ? (double)bars.count / total_bars : NAN);
    add_number(d, "distinct_spans4", total_spans ? (double)spans.count / total_spans : NAN);
    cJSON_AddNumberToObject(d, "bars", (double)total_bars);
    cJSON_AddNumberToObject(d, "spans4", (double)total_spans);
    hashset_free(&bars), hashset_free(&spans);
}

// Each metric of music_metrics.def with its 95% interval ("intervals") and
// its per-tune numerator and denominator ("per_tune", for the tables'
// permutation tests).
static void add_intervals(cJSON *json, const TuneMetrics *m, int n) {
    double *num = tb_malloc((size_t)MUSIC_NUM_METRICS * (n ? n : 1) * sizeof *num);
    double *den = tb_malloc((size_t)MUSIC_NUM_METRICS * (n ? n : 1) * sizeof *den);
    for (int i = 0; i < n; i++) {
        double a[MUSIC_NUM_METRICS], b[MUSIC_NUM_METRICS];
        music_metric_values(&m[i], a, b);
        for (int k = 0; k < MUSIC_NUM_METRICS; k++) num[(size_t)k * n + i] = a[k], den[(size_t)k * n + i] = b[k];
    }
    cJSON *iv = cJSON_AddObjectToObject(json, "intervals");
    cJSON_AddNumberToObject(iv, "bootstrap_resamples", STATS_BOOTSTRAP_RESAMPLES);
    cJSON_AddNumberToObject(iv, "bootstrap_seed", STATS_SEED);
    cJSON *per = cJSON_CreateObject();
    for (int k = 0; k < MUSIC_NUM_METRICS; k++) {
        const MusicMetricInfo *info = &music_metric_info[k];
        const double *x = num + (size_t)k * n, *w = den + (size_t)k * n;
        Interval v;
        int units = 0;
        double hits = 0;
        for (int i = 0; i < n; i++)
            if (w[i] > 0) units++, hits += x[i];
        if (info->kind == MK_RATE) v = stats_wilson((int)hits, units);
        else v = stats_bootstrap_ratio(x, w, n, STATS_BOOTSTRAP_RESAMPLES, STATS_SEED + (uint64_t)k);
        cJSON *o = cJSON_AddObjectToObject(iv, info->id);
        add_number(o, "value", v.estimate);
        add_number(o, "lo", v.lo);
        add_number(o, "hi", v.hi);
        cJSON_AddStringToObject(o, "method", info->kind == MK_RATE ? "wilson" : "bootstrap");
        cJSON_AddNumberToObject(o, "tunes", units);
        cJSON *p = cJSON_AddObjectToObject(per, info->id);
        cJSON_AddItemToObject(p, "num", cJSON_CreateDoubleArray(x, n));
        cJSON_AddItemToObject(p, "den", cJSON_CreateDoubleArray(w, n));
    }
    cJSON_AddItemToObject(json, "per_tune", per);
    free(num), free(den);
}

static void collect_ref(const char *text, size_t len, const char *source, int index, void *vctx) {
    (void)source, (void)index;
    EvalCtx *c = vctx;
    MusicTune t;
    tune_parse(&t, text, len);
    eval_grow(c);
    eval_keep(c, &t);
    music_tune_metrics(&t, len, NULL, &c->m[c->n++]);
    tune_free(&t);
}

static cJSON *vs_reference_json(const EvalCtx *c, const EvalCtx *ref) {
    const TuneMetrics *m = c->m, *r = ref->m;
    int n = c->n, nr = ref->n;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "reference_tunes", nr);
    cJSON *yl = cJSON_AddObjectToObject(o, "yang_lerch");
    for (int f = 0; f < FEATURE_COUNT; f++) {
        double oa, kl;
        music_yang_lerch(ref->features, ref->num_featured, c->features, c->num_featured, (MusicFeature)f, &oa, &kl);
        cJSON *fo = cJSON_AddObjectToObject(yl, music_feature_names[f]);
        add_number(fo, "overlap", oa);
        add_number(fo, "kl", kl);
    }
    for (int q = 0; q < Q_COUNT; q++) {
        int k, kr;
        double *x = quantity_values(m, n, (Quantity)q, &k);
        double *y = quantity_values(r, nr, (Quantity)q, &kr);
        cJSON *d = cJSON_AddObjectToObject(o, quantity_names[q]);
        add_stats(d, "reference", y, kr);
        add_number(d, "wasserstein1", music_wasserstein1(x, k, y, kr));
        add_number(d, "overlap", music_overlap(x, k, y, kr));
        // The overlap's bootstrap interval: the set's tunes resampled, the
        // reference fixed.
        double *draw = tb_malloc((size_t)(k ? k : 1) * sizeof *draw);
        double *ov = tb_malloc((size_t)STATS_BOOTSTRAP_RESAMPLES * sizeof *ov);
        Rng rng;
        rng_seed(&rng, STATS_SEED + 100 + (uint64_t)q);
        for (int b = 0; b < STATS_BOOTSTRAP_RESAMPLES && k && kr; b++) {
            for (int i = 0; i < k; i++) draw[i] = x[rng_below(&rng, (uint32_t)k)];
            ov[b] = music_overlap(draw, k, y, kr);
        }
        if (k && kr) {
            add_number(d, "overlap_lo", stats_quantile(ov, STATS_BOOTSTRAP_RESAMPLES, 0.025));
            add_number(d, "overlap_hi", stats_quantile(ov, STATS_BOOTSTRAP_RESAMPLES, 0.975));
        }
        free(draw), free(ov);
        free(x), free(y);
    }
    return o;
}

cJSON *music_evaluate(const MusicEvalOptions *opt) {
    NoveltyIndex train;
    int have_train = 0;
    if (opt->train) {
        size_t len;
        char *text = tb_read_file(opt->train, &len);
        if (!text) return NULL;
        novelty_init(&train);
        novelty_add_text(&train, text, len);
        free(text);
        have_train = 1;
        if (train.tunes == 0) {
            novelty_free(&train);
            tb_error("%s: the training split holds no tunes", opt->train);
            return NULL;
        }
    }
    EvalCtx c = {.opt = opt, .train = have_train ? &train : NULL, .tunes = cJSON_CreateArray()};
    char tmpl[] = "/tmp/tunebench_music_XXXXXX";
    if (!mkdtemp(tmpl)) {
        tb_error("cannot create a temporary folder in /tmp");
        goto fail;
    }
    snprintf(c.tmp_dir, sizeof c.tmp_dir, "%s", tmpl);
    int count = music_for_each_tune(opt->input, score_one, &c);
    rmdir(c.tmp_dir);
    if (count < 0 || c.failed) goto fail;
    if (c.n == 0) {
        tb_error("%s: no tunes to score", opt->input);
        goto fail;
    }

    cJSON *json = cJSON_CreateObject();
    cJSON_AddStringToObject(json, "schema", "tunebench.music_metrics.v1");
    cJSON_AddStringToObject(json, "label", opt->label);
    cJSON_AddStringToObject(json, "input", opt->input);
    if (opt->train) {
        cJSON_AddStringToObject(json, "train", opt->train);
        cJSON_AddNumberToObject(json, "train_tunes", train.tunes);
        cJSON_AddNumberToObject(json, "train_distinct_bars", (double)train.bars.count);
        cJSON_AddNumberToObject(json, "train_distinct_spans4", (double)train.spans4.count);
    }
    cJSON *summary = summary_json(c.m, c.n, opt->use_abc2midi, have_train);
    cJSON_AddItemToObject(json, "summary", summary);
    add_diversity(&c, summary, c.tunes);
    add_intervals(json, c.m, c.n);
    if (opt->ref) {
        EvalCtx r = {.opt = opt};
        if (music_for_each_tune(opt->ref, collect_ref, &r) < 0) {
            eval_free(&r);
            cJSON_Delete(json);
            goto fail;
        }
        cJSON_AddStringToObject(json, "reference", opt->ref);
        cJSON_AddItemToObject(json, "vs_reference", vs_reference_json(&c, &r));
        eval_free(&r);
    }
    cJSON_AddItemToObject(json, "tunes", c.tunes);
    eval_free(&c);
    if (have_train) novelty_free(&train);
    return json;
fail:
    cJSON_Delete(c.tunes);
    eval_free(&c);
    if (have_train) novelty_free(&train);
    return NULL;
}
