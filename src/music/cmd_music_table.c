// cmd_music_table.c: `tunebench music-table`, the music metrics of several
// sets of tunes (the models and the real validation tunes) side by side,
// from the JSON files of `tunebench evaluate-music`, with their 95%
// intervals and the permutation tests that say which differences hold:
//   PREFIX.md, PREFIX.tex     each set's value [lo, hi]; a mark where the set
//                             differs from the reference set (validation)
//   PREFIX_pairs.md, .tex     each pair of the other sets: the difference,
//                             marked where it is significant
//   PREFIX_tests.json         every p-value, raw and Holm-adjusted
//   PREFIX.dat                value, lo, hi of the figure's metrics
//                             (plots/music_metrics.gp)
// Tests: two-sided permutation tests of sum(num)/sum(den) with tunes
// relabelled whole (STATS_PERMUTATIONS, fixed seed), Holm-adjusted within
// each metric over the comparisons of that table; significant at adjusted
// p < STATS_ALPHA.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/command.h"
#include "lib/common.h"
#include "music_metrics.h"
#include "music_stats.h"

#define MAX_SETS 32
// The columns: the metrics of music_metrics.def, then the comparisons with
// the reference set: overlaps of per-tune histograms (bootstrap intervals),
// and Yang & Lerch's overlap and KL of distance densities (music_features.h;
// set-level, no interval). None is tested.
static const struct {
    const char *group, *quantity, *field, *label;
} overlaps[] = {
    {NULL, "bars", "overlap", "bars overlap w/ val"},
    {NULL, "pitch_range", "overlap", "range overlap w/ val"},
    {"yang_lerch", "pitch_class", "overlap", "YL overlap: pitch classes"},
    {"yang_lerch", "interval", "overlap", "YL overlap: intervals"},
    {"yang_lerch", "note_length", "overlap", "YL overlap: note lengths"},
    {"yang_lerch", "pitch_range", "overlap", "YL overlap: pitch range"},
    {"yang_lerch", "pitch_class", "kl", "YL KL: pitch classes"},
    {"yang_lerch", "interval", "kl", "YL KL: intervals"},
    {"yang_lerch", "note_length", "kl", "YL KL: note lengths"},
    {"yang_lerch", "pitch_range", "kl", "YL KL: pitch range"},
};
#define NOVERLAP ((int)(sizeof overlaps / sizeof overlaps[0]))
#define NCOL (MUSIC_NUM_METRICS + NOVERLAP)

typedef struct {
    double value, lo, hi;
} Cell;

typedef struct {
    const char *name, *path;
    int tunes;
    Cell cells[NCOL];
    double *num[MUSIC_NUM_METRICS], *den[MUSIC_NUM_METRICS];  // per tune, for the tests
    int n;                                                    // tunes in the per-tune arrays
} Set;

static const char *column_label(int c) {
    return c < MUSIC_NUM_METRICS ? music_metric_info[c].label : overlaps[c - MUSIC_NUM_METRICS].label;
}
static int column_percent(int c) { return c < MUSIC_NUM_METRICS ? music_metric_info[c].percent : 0; }

static double number_or_nan(const cJSON *o) { return cJSON_IsNumber(o) ? o->valuedouble : NAN; }

static double *number_array(const cJSON *a, int *n) {
    *n = cJSON_GetArraySize(a);
    double *x = tb_malloc((size_t)(*n ? *n : 1) * sizeof *x);
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a) x[i++] = number_or_nan(v);
    return x;
}

static int read_set(Set *s) {
    size_t len;
    char *text = tb_read_file(s->path, &len);
    if (!text) return -1;
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *iv = cJSON_GetObjectItem(j, "intervals"), *per = cJSON_GetObjectItem(j, "per_tune");
    if (!j || !cJSON_GetObjectItem(j, "summary")) {
        cJSON_Delete(j);
        return tb_error("music-table: %s is not an evaluate-music JSON file", s->path);
    }
    if (!iv || !per) {
        cJSON_Delete(j);
        return tb_error("music-table: %s has no intervals (written by an older tunebench); rerun make music-eval",
                        s->path);
    }
    s->tunes = (int)number_or_nan(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "tunes"));
    s->n = -1;
    for (int k = 0; k < MUSIC_NUM_METRICS; k++) {
        const cJSON *o = cJSON_GetObjectItem(iv, music_metric_info[k].id);
        s->cells[k] = (Cell){number_or_nan(cJSON_GetObjectItem(o, "value")), number_or_nan(cJSON_GetObjectItem(o, "lo")),
                             number_or_nan(cJSON_GetObjectItem(o, "hi"))};
        const cJSON *p = cJSON_GetObjectItem(per, music_metric_info[k].id);
        int nn, nd;
        s->num[k] = number_array(cJSON_GetObjectItem(p, "num"), &nn);
        s->den[k] = number_array(cJSON_GetObjectItem(p, "den"), &nd);
        if (nn != nd || (s->n >= 0 && nn != s->n) || !p) {
            cJSON_Delete(j);
            return tb_error("music-table: %s: per_tune.%s is not one num and one den per tune", s->path,
                            music_metric_info[k].id);
        }
        s->n = nn;
    }
    const cJSON *vs = cJSON_GetObjectItem(j, "vs_reference");
    for (int k = 0; k < NOVERLAP; k++) {
        const cJSON *g = overlaps[k].group ? cJSON_GetObjectItem(vs, overlaps[k].group) : vs;
        const cJSON *q = cJSON_GetObjectItem(g, overlaps[k].quantity);
        char lo[32], hi[32];
        snprintf(lo, sizeof lo, "%s_lo", overlaps[k].field);
        snprintf(hi, sizeof hi, "%s_hi", overlaps[k].field);
        s->cells[MUSIC_NUM_METRICS + k] = (Cell){number_or_nan(cJSON_GetObjectItem(q, overlaps[k].field)),
                                                 number_or_nan(cJSON_GetObjectItem(q, lo)),
                                                 number_or_nan(cJSON_GetObjectItem(q, hi))};
    }
    cJSON_Delete(j);
    return 0;
}

static void set_free(Set *s) {
    for (int k = 0; k < MUSIC_NUM_METRICS; k++) free(s->num[k]), free(s->den[k]);
}

static double test_pair(const Set *a, const Set *b, int k) {
    return stats_permutation_ratio_p(a->num[k], a->den[k], a->n, b->num[k], b->den[k], b->n, STATS_PERMUTATIONS,
                                     STATS_SEED + (uint64_t)k);
}

// ---------------------------------------------------------------- text
typedef struct {
    char *data;
    size_t len, cap;
} Text;

static void put(Text *t, const char *fmt, ...) TB_PRINTF(2, 3);
static void put(Text *t, const char *fmt, ...) {
    if (!t->data) t->cap = 4096, t->data = tb_malloc(t->cap);
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap * 2 + (size_t)(n > 0 ? n : 0) + 256;
        t->data = realloc(t->data, t->cap);
        if (!t->data) tb_die("out of memory writing the music table");
    }
}

static void number(char *out, size_t cap, double v, int percent) {
    if (isnan(v)) snprintf(out, cap, "--");
    else if (percent) snprintf(out, cap, "%.1f", 100 * v);
    else snprintf(out, cap, "%.2f", v);
}

// "87.5 [64.0, 96.5]" (tex: with the interval small), "--" when there is no value.
static void cell_text(char *out, size_t cap, Cell c, int percent, int tex, const char *mark) {
    char v[32], lo[32], hi[32];
    number(v, sizeof v, c.value, percent);
    number(lo, sizeof lo, c.lo, percent);
    number(hi, sizeof hi, c.hi, percent);
    if (isnan(c.value)) snprintf(out, cap, "--");
    else if (isnan(c.lo)) snprintf(out, cap, tex ? "%s$^{%s}$" : "%s%s", v, mark);
    else if (tex) snprintf(out, cap, "%s$^{%s}$ {\\scriptsize[%s, %s]}", v, mark, lo, hi);
    else snprintf(out, cap, "%s%s [%s, %s]", v, mark, lo, hi);
}

// Appends text to a TeX macro body: newlines become spaces, specials escaped.
static size_t tex_text(char *dst, size_t cap, const char *text) {
    size_t n = 0;
    for (const char *c = text; *c && n + 16 < cap; c++) {
        if (*c == '\n') dst[n++] = ' ';
        else if (strchr("#$%&_{}", *c)) dst[n++] = '\\', dst[n++] = *c;
        else if (*c == '\\' || *c == '^' || *c == '~') n += (size_t)snprintf(dst + n, cap - n, "\\char%d{}", *c);
        else dst[n++] = *c;
    }
    dst[n] = '\0';
    return n;
}

// PREFIX_generation.tex: how the tunes were generated (tbGenN, tbGenPrompt,
// tbGenSampling, tbGenSeed), from one set's `tunebench generate` index.json,
// so that the paper states the settings the tunes came from.
static int write_generation_facts(const char *out, const char *index_path) {
    size_t len;
    char *text = tb_read_file(index_path, &len);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *prompt = cJSON_GetObjectItem(j, "prompt"), *tunes = cJSON_GetObjectItem(j, "tunes");
    const cJSON *from = cJSON_GetObjectItem(j, "prompts_from");
    char prompt_text[1200];
    if (cJSON_IsString(from))
        snprintf(prompt_text, sizeof prompt_text,
                 "the header (X:1, then S:, B:, E:, L:, M:, K: as written) of a real tune of %.900s, a different "
                 "one for each tune",
                 from->valuestring);
    else if (cJSON_IsString(prompt))
        snprintf(prompt_text, sizeof prompt_text, "%.1000s", prompt->valuestring);
    if ((!cJSON_IsString(prompt) && !cJSON_IsString(from)) || !cJSON_IsArray(tunes)) {
        cJSON_Delete(j);
        return tb_error("music-table: %s is not a `tunebench generate` index.json", index_path);
    }
    double top_k = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "top_k"));
    char tex[8192], esc[4096], k_text[32];
    if (top_k > 0) snprintf(k_text, sizeof k_text, "%.0f", top_k);
    else snprintf(k_text, sizeof k_text, "all");
    tex_text(esc, sizeof esc, prompt_text);
    int n = snprintf(tex, sizeof tex,
                     "%% written by tunebench music-table from %s\n"
                     "\\newcommand{\\tbGenN}{%d}\n\\newcommand{\\tbGenPrompt}{%s}\n"
                     "\\newcommand{\\tbGenSampling}{temperature %g, top-k %s, top-p %g}\n"
                     "\\newcommand{\\tbGenSeed}{%.0f}\n",
                     index_path, cJSON_GetArraySize(tunes), esc,
                     cJSON_GetNumberValue(cJSON_GetObjectItem(j, "temperature")), k_text,
                     cJSON_GetNumberValue(cJSON_GetObjectItem(j, "top_p")),
                     cJSON_GetNumberValue(cJSON_GetObjectItem(j, "seed")));
    cJSON_Delete(j);
    char path[4096];
    snprintf(path, sizeof path, "%s_generation.tex", out);
    return tb_write_file_atomic(path, tex, (size_t)n);
}

// ---------------------------------------------------------------- claims
// The study's two claims, each stated with its measure, the figures with
// intervals and a verdict by a rule fixed here (and printed under the table):
//   (a) Transformers and Mamba both manage music generation. Measure: the
//       share of tunes abc2midi plays without error, for the architectures
//       named by --claim-a (the Makefile passes the Transformer's and
//       Mamba's). Per size: supported when the lower 95% bound is at least
//       50% for every one of them, not supported when the upper bound is
//       under 50% for any, else undecided.
//   (b) More parameters lead to more complex melodies. Measures: pitch-class
//       entropy, distinct intervals per tune and pitch range, 60M against 6M
//       of each architecture (permutation tests, Holm over the claim's
//       tests). Per architecture: supported when at least two measures are
//       significantly higher at 60M and none lower; not supported when one or
//       more is significantly lower and none higher; else undecided.
// Sets are found by name: ARCH-6m and ARCH-60m (the experiments' names).
static int find_set(const Set *sets, int n, const char *arch, const char *size) {
    char name[200];
    snprintf(name, sizeof name, "%.120s-%s", arch, size);
    for (int r = 0; r < n; r++)
        if (tb_streq(sets[r].name, name)) return r;
    return -1;
}

static void interval_text(char *out, size_t cap, Cell c, int percent) {
    cell_text(out, cap, c, percent, 0, "");
}

static void write_claims(const Set *sets, int n, const char *claim_a, Text *md, Text *tex) {
    static const char *const sizes[2] = {"6m", "60m"}, *const size_labels[2] = {"6M", "60M"};
    put(md, "| claim | measure | figures (95%% intervals) | verdict |\n|---|---|---|---|\n");
    put(tex, "%% written by tunebench music-table\n\\begin{table}[t]\\centering\\small\n"
             "\\begin{tabular}{p{0.2\\linewidth}p{0.17\\linewidth}p{0.38\\linewidth}p{0.13\\linewidth}}\\hline\n"
             "claim & measure & figures (95\\%% intervals) & verdict\\\\\\hline\n");
    const int valid = MUSIC_METRIC_abc2midi_valid_rate;
    // The architectures of claim (a), comma-separated.
    char archs[8][64];
    int na_ = 0;
    for (const char *c = claim_a ? claim_a : ""; *c && na_ < 8;) {
        size_t len = strcspn(c, ",");
        snprintf(archs[na_++], sizeof archs[0], "%.*s", (int)(len < 63 ? len : 63), c);
        c += len + (c[len] == ',');
    }
    for (int z = 0; z < 2 && na_ > 0; z++) {
        int idx[8], all = 1, any_below = 0, all_above = 1, no_a2m = 0;
        for (int k = 0; k < na_; k++) {
            idx[k] = find_set(sets, n, archs[k], sizes[z]);
            if (idx[k] < 0) all = 0;
        }
        if (!all) continue;
        char figures[1024] = "";
        size_t f = 0;
        for (int k = 0; k < na_; k++) {
            Cell c = sets[idx[k]].cells[valid];
            no_a2m |= isnan(c.lo);
            all_above &= c.lo >= 0.5;
            any_below |= c.hi < 0.5;
            char a[128];
            interval_text(a, sizeof a, c, 1);
            f += (size_t)snprintf(figures + f, sizeof figures - f, "%s%s %s (%d tunes)", k ? "; " : "",
                                  sets[idx[k]].name, a, sets[idx[k]].tunes);
        }
        const char *verdict = no_a2m       ? "undecided (abc2midi was not run)"
                              : all_above  ? "supported"
                              : any_below  ? "not supported"
                                           : "undecided at this sample size";
        put(md, "| (a) Transformers and Mamba both manage music generation (%s) | tunes abc2midi plays (%%), "
                "Wilson | %s | %s |\n",
            size_labels[z], figures, verdict);
        put(tex, "(a) Transformers and Mamba both manage music generation (%s) & tunes abc2midi plays (\\%%), "
                 "Wilson & %s & %s\\\\\n",
            size_labels[z], figures, verdict);
    }
    // (b): every architecture with both sizes.
    static const int measures[3] = {MUSIC_METRIC_pitch_class_entropy, MUSIC_METRIC_interval_variety,
                                    MUSIC_METRIC_pitch_range_mean};
    int small[MAX_SETS], large[MAX_SETS], na = 0;
    for (int r = 0; r < n; r++) {
        size_t len = strlen(sets[r].name);
        if (len < 4 || strcmp(sets[r].name + len - 3, "-6m") != 0) continue;
        char arch[128];
        snprintf(arch, sizeof arch, "%.*s", (int)(len - 3 < 120 ? len - 3 : 120), sets[r].name);
        int l = find_set(sets, n, arch, "60m");
        if (l >= 0) small[na] = r, large[na] = l, na++;
    }
    double p[MAX_SETS * 3];
    for (int i = 0; i < na; i++)
        for (int k = 0; k < 3; k++) p[i * 3 + k] = test_pair(&sets[large[i]], &sets[small[i]], measures[k]);
    stats_holm(p, na * 3);
    for (int i = 0; i < na; i++) {
        int higher = 0, lower = 0;
        char figures[1024] = "";
        size_t f = 0;
        for (int k = 0; k < 3; k++) {
            const Set *L = &sets[large[i]], *S = &sets[small[i]];
            double d = L->cells[measures[k]].value - S->cells[measures[k]].value;
            int sig = p[i * 3 + k] < STATS_ALPHA;
            higher += sig && d > 0, lower += sig && d < 0;
            char a[128], b[128];
            interval_text(a, sizeof a, L->cells[measures[k]], 0);
            interval_text(b, sizeof b, S->cells[measures[k]], 0);
            f += (size_t)snprintf(figures + f, sizeof figures - f, "%s%s: 60M %s vs 6M %s (Holm p=%.3g)", k ? "; " : "",
                                  music_metric_info[measures[k]].label, a, b, p[i * 3 + k]);
        }
        const char *verdict = higher >= 2 && !lower   ? "supported"
                              : lower >= 1 && !higher ? "not supported"
                                                      : "undecided at this sample size";
        const char *arch_name = sets[small[i]].name;
        int arch_len = (int)strlen(arch_name) - 3;
        put(md, "| (b) More parameters, more complex melodies (%.*s) | pitch-class entropy, distinct intervals, "
                "range; permutation tests, Holm | %s | %s |\n",
            arch_len, arch_name, figures, verdict);
        put(tex, "(b) More parameters, more complex melodies (%.*s) & pitch-class entropy, distinct intervals, "
                 "range; permutation tests, Holm & %s & %s\\\\\n",
            arch_len, arch_name, figures, verdict);
    }
    put(md, "\nVerdicts: (a) supported when the lower 95%% bound is at least 50%% for both models at that size, not "
            "supported when the upper bound is under 50%% for either, else undecided. (b) supported when at least two "
            "of the three measures are significantly higher at 60M than at 6M (two-sided permutation tests over "
            "whole tunes, %d relabellings, Holm over the claim's tests, p < %g) and none lower; not supported when "
            "one or more is significantly lower and none higher; else undecided.\n",
        STATS_PERMUTATIONS, STATS_ALPHA);
    put(tex, "\\hline\\end{tabular}\n\\caption{The study's claims tested on the generated tunes. (a) is supported "
             "when the lower 95\\%% bound of the share abc2midi plays is at least 50\\%% for both models, not "
             "supported when either upper bound is under 50\\%%. (b) is supported when at least two of the three "
             "measures are significantly higher at 60M (two-sided permutation tests over whole tunes, %d "
             "relabellings, Holm over the claim's tests, $p<%g$) and none lower, not supported when one or more is "
             "lower and none higher; otherwise undecided at this sample size.}\n\\label{tab:music-claims}\n"
             "\\end{table}\n",
        STATS_PERMUTATIONS, STATS_ALPHA);
}

static int write_text(const char *out, const char *suffix, const Text *t) {
    char path[4200];
    snprintf(path, sizeof path, "%s%s", out, suffix);
    return tb_write_file_atomic(path, t->data, t->len);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: tunebench music-table --out PREFIX [--reference NAME] [--generation INDEX.json]\n"
            "                             [--claim-a ARCH,ARCH] NAME=METRICS.json...\n"
            "  one row per set (e.g. gpt2-6m=results/music/gpt2-6m.json validation=...), each metric\n"
            "  with its 95%% interval (Wilson for shares of tunes, a bootstrap over tunes otherwise).\n"
            "  Writes PREFIX.md and PREFIX.tex (a mark where a set differs from the reference set,\n"
            "  default 'validation'), PREFIX_pairs.md/.tex (the difference of each other pair, marked\n"
            "  where significant), PREFIX_tests.json (every p-value), PREFIX.dat (the figure's data,\n"
            "  plots/music_metrics.gp) and, with --generation (a `tunebench generate` index.json),\n"
            "  PREFIX_generation.tex, the paper's macros for how the tunes were generated.\n"
            "  PREFIX_claims.md/.tex test the study's claims: (a) for the architectures of --claim-a\n"
            "  (sets ARCH-6m, ARCH-60m), (b) for every ARCH with both sizes.\n"
            "  Tests: two-sided permutation tests (%d relabellings of whole tunes, seed %u),\n"
            "  Holm-adjusted within each metric; significant at adjusted p < %g.\n",
            STATS_PERMUTATIONS, STATS_SEED, STATS_ALPHA);
}

// The comparisons behind every table: the sets, the reference (ref, or -1),
// each set's Holm-adjusted p-values against it, and the np pairs (pa[i],
// pb[i]) of the other sets with their raw and Holm-adjusted p-values
// (metric-major: [k * np + i]).
typedef struct {
    Set *sets;
    int n, ref, np;
    const char *reference;
    double (*vs_ref)[MUSIC_NUM_METRICS];
    const int *pa, *pb;
    const double *pair_p, *pair_raw;
} Comparison;

// Set r's value of column c, marked where it differs from the reference.
static const char *main_cell(const Comparison *cmp, int r, int c, int tex, char *buf, size_t cap) {
    int sig = c < MUSIC_NUM_METRICS && cmp->vs_ref[r][c] < STATS_ALPHA;
    cell_text(buf, cap, cmp->sets[r].cells[c], column_percent(c), tex, sig ? "*" : "");
    return buf;
}

// Pair i's difference in metric k (percentage points for a share), marked
// where significant; "--" where either side has no value.
static const char *pair_cell(const Comparison *cmp, int i, int k, int tex, char *buf, size_t cap) {
    double d = cmp->sets[cmp->pa[i]].cells[k].value - cmp->sets[cmp->pb[i]].cells[k].value;
    const char *mark = cmp->pair_p[(size_t)k * cmp->np + i] < STATS_ALPHA ? "*" : "";
    int pct = music_metric_info[k].percent;
    if (isnan(d)) snprintf(buf, cap, "--");
    else if (tex) snprintf(buf, cap, pct ? "$%+.1f^{%s}$" : "$%+.2f^{%s}$", pct ? 100 * d : d, mark);
    else snprintf(buf, cap, pct ? "%+.1f%s" : "%+.2f%s", pct ? 100 * d : d, mark);
    return buf;
}

// The main table: a row per set in Markdown, a column per set in LaTeX.
static void main_tables(const Comparison *cmp, Text *md, Text *tex) {
    Set *sets = cmp->sets;
    int n = cmp->n;
    const char *reference = cmp->reference, *mark_md = "*";
    char c1[128];
    put(md, "| set | tunes |");
    for (int c = 0; c < NCOL; c++) put(md, " %s%s |", column_label(c), column_percent(c) ? " (%)" : "");
    put(md, "\n|---|---:|");
    for (int c = 0; c < NCOL; c++) put(md, "---:|");
    put(md, "\n");
    for (int r = 0; r < n; r++) {
        put(md, "| %s | %d |", sets[r].name, sets[r].tunes);
        for (int c = 0; c < NCOL; c++) put(md, " %s |", main_cell(cmp, r, c, 0, c1, sizeof c1));
        put(md, "\n");
    }
    put(md,
        "\nValues with their 95%% intervals: Wilson for shares of tunes, otherwise a bootstrap over tunes (%d "
        "resamples, seed %u). %s: differs from %s (two-sided permutation test, %d relabellings of whole tunes, "
        "Holm-adjusted over the sets, p < %g). Overlaps: bootstrap intervals, not tested. YL: Yang & Lerch (2020), "
        "overlap and KL (nats) of the densities of distances within the validation tunes and between them and the "
        "set, per feature; set-level, no interval.\n",
        STATS_BOOTSTRAP_RESAMPLES, STATS_SEED, mark_md, reference, STATS_PERMUTATIONS, STATS_ALPHA);
    // The LaTeX table is transposed (metrics as rows) so that it fits a page.
    put(tex, "%% written by tunebench music-table\n\\begin{table}[t]\\centering\\small\n\\resizebox{\\linewidth}{!}{%%\n"
              "\\begin{tabular}{l");
    for (int r = 0; r < n; r++) put(tex, "r");
    put(tex, "}\\hline\nmetric");
    for (int r = 0; r < n; r++) put(tex, " & %s", sets[r].name);
    put(tex, "\\\\\\hline\ntunes");
    for (int r = 0; r < n; r++) put(tex, " & %d", sets[r].tunes);
    put(tex, "\\\\\n");
    for (int c = 0; c < NCOL; c++) {
        put(tex, "%s%s", column_label(c), column_percent(c) ? " (\\%)" : "");
        for (int r = 0; r < n; r++) put(tex, " & %s", main_cell(cmp, r, c, 1, c1, sizeof c1));
        put(tex, "\\\\\n");
    }
    put(tex,
        "\\hline\\end{tabular}}\n\\caption{Objective music metrics of generated tunes and of the real validation "
        "tunes, scored by the same code (tunebench evaluate-music), with 95\\%% intervals: Wilson for shares of "
        "tunes, otherwise a bootstrap over tunes (%d resamples). $^{*}$: differs from %s (two-sided permutation "
        "test over whole tunes, %d relabellings, Holm-adjusted, $p<%g$). Overlaps compare per-tune histograms "
        "with the validation set's (1 = identical); YL: Yang and Lerch's overlap and KL of intra- and inter-set "
        "distance densities (set-level, no interval).}\n\\label{tab:music-metrics}\n\\end{table}\n",
        STATS_BOOTSTRAP_RESAMPLES, reference, STATS_PERMUTATIONS, STATS_ALPHA);
}

static void figure_data(const Comparison *cmp, Text *dat) {
    Set *sets = cmp->sets;
    int n = cmp->n;
    // ---- the figure's data: value, lo, hi (percent) of the share metrics
    // that any set has, under a header line with their titles (a metric no
    // set has, such as abc2midi's after --no-abc2midi, is left out).
    static const int fig[] = {MUSIC_METRIC_checker_valid_rate, MUSIC_METRIC_abc2midi_valid_rate,
                              MUSIC_METRIC_bar_consistency,    MUSIC_METRIC_notes_out_of_key,
                              MUSIC_METRIC_bars_in_train,      MUSIC_METRIC_spans4_in_train};
    int fig_used[sizeof fig / sizeof fig[0]];
    put(dat, "set");
    for (size_t k = 0; k < sizeof fig / sizeof fig[0]; k++) {
        fig_used[k] = 0;
        for (int r = 0; r < n; r++) fig_used[k] |= !isnan(sets[r].cells[fig[k]].value);
        if (fig_used[k]) put(dat, " \"%s\" lo hi", music_metric_info[fig[k]].label);
    }
    put(dat, "\n");
    for (int r = 0; r < n; r++) {
        put(dat, "\"%s\"", sets[r].name);
        for (size_t k = 0; k < sizeof fig / sizeof fig[0]; k++) {
            if (!fig_used[k]) continue;
            Cell c = sets[r].cells[fig[k]];
            double v[3] = {c.value, c.lo, c.hi};
            for (int i = 0; i < 3; i++)
                if (isnan(v[i])) put(dat, " NaN");
                else put(dat, " %.2f", 100 * v[i]);
        }
        put(dat, "\n");
    }
}

// The differences between the pairs of generated sets, Markdown and LaTeX.
static void pair_tables(const Comparison *cmp, Text *pmd, Text *ptex) {
    Set *sets = cmp->sets;
    int np = cmp->np;
    const int *pa = cmp->pa, *pb = cmp->pb;
    const char *mark_md = "*";
    char c1[128];
    put(pmd, "| pair |");
    for (int k = 0; k < MUSIC_NUM_METRICS; k++)
        put(pmd, " %s%s |", music_metric_info[k].label, music_metric_info[k].percent ? " (pp)" : "");
    put(pmd, "\n|---|");
    for (int k = 0; k < MUSIC_NUM_METRICS; k++) put(pmd, "---:|");
    put(pmd, "\n");
    put(ptex, "%% written by tunebench music-table\n\\begin{table}[t]\\centering\\small\n\\resizebox{\\linewidth}{!}{%%\n"
               "\\begin{tabular}{l");
    for (int i = 0; i < np; i++) put(ptex, "r");
    put(ptex, "}\\hline\nmetric");
    for (int i = 0; i < np; i++) put(ptex, " & %s$-$%s", sets[pa[i]].name, sets[pb[i]].name);
    put(ptex, "\\\\\\hline\n");
    for (int i = 0; i < np; i++) {
        put(pmd, "| %s - %s |", sets[pa[i]].name, sets[pb[i]].name);
        for (int k = 0; k < MUSIC_NUM_METRICS; k++) put(pmd, " %s |", pair_cell(cmp, i, k, 0, c1, sizeof c1));
        put(pmd, "\n");
    }
    for (int k = 0; k < MUSIC_NUM_METRICS; k++) {
        put(ptex, "%s%s", music_metric_info[k].label, music_metric_info[k].percent ? " (pp)" : "");
        for (int i = 0; i < np; i++) put(ptex, " & %s", pair_cell(cmp, i, k, 1, c1, sizeof c1));
        put(ptex, "\\\\\n");
    }
    put(pmd, "\nDifferences (first minus second; pp: percentage points). %s: significant (two-sided permutation "
              "test, %d relabellings of whole tunes, Holm-adjusted over the %d pairs, p < %g).\n",
        mark_md, STATS_PERMUTATIONS, np, STATS_ALPHA);
    put(ptex,
        "\\hline\\end{tabular}}\n\\caption{Differences between the generated sets (first minus second; pp: "
        "percentage points). $^{*}$: significant by a two-sided permutation test over whole tunes (%d "
        "relabellings), Holm-adjusted over the %d pairs, $p<%g$.}\n\\label{tab:music-pairs}\n\\end{table}\n",
        STATS_PERMUTATIONS, np, STATS_ALPHA);
}

// Every p-value, for the _tests.json file.
static cJSON *tests_json(const Comparison *cmp) {
    Set *sets = cmp->sets;
    int n = cmp->n, ref = cmp->ref, np = cmp->np;
    const char *reference = cmp->reference;
    const int *pa = cmp->pa, *pb = cmp->pb;
    const double *pair_p = cmp->pair_p, *pair_raw = cmp->pair_raw;
    cJSON *tests = cJSON_CreateObject();
    cJSON_AddStringToObject(tests, "schema", "tunebench.music_tests.v1");
    cJSON_AddStringToObject(tests, "reference", reference);
    cJSON_AddNumberToObject(tests, "permutations", STATS_PERMUTATIONS);
    cJSON_AddNumberToObject(tests, "seed", STATS_SEED);
    cJSON_AddNumberToObject(tests, "alpha", STATS_ALPHA);
    cJSON *list = cJSON_AddArrayToObject(tests, "tests");
    for (int k = 0; k < MUSIC_NUM_METRICS; k++) {
        for (int r = 0; r < n; r++) {
            if (r == ref || ref < 0) continue;
            cJSON *t = cJSON_CreateObject();
            cJSON_AddStringToObject(t, "metric", music_metric_info[k].id);
            cJSON_AddStringToObject(t, "a", sets[r].name);
            cJSON_AddStringToObject(t, "b", reference);
            cJSON_AddNumberToObject(t, "difference", sets[r].cells[k].value - sets[ref].cells[k].value);
            cJSON_AddNumberToObject(t, "p_holm", cmp->vs_ref[r][k]);
            cJSON_AddBoolToObject(t, "significant", cmp->vs_ref[r][k] < STATS_ALPHA);
            cJSON_AddItemToArray(list, t);
        }
        for (int i = 0; i < np; i++) {
            cJSON *t = cJSON_CreateObject();
            cJSON_AddStringToObject(t, "metric", music_metric_info[k].id);
            cJSON_AddStringToObject(t, "a", sets[pa[i]].name);
            cJSON_AddStringToObject(t, "b", sets[pb[i]].name);
            cJSON_AddNumberToObject(t, "difference", sets[pa[i]].cells[k].value - sets[pb[i]].cells[k].value);
            cJSON_AddNumberToObject(t, "p", pair_raw[(size_t)k * np + i]);
            cJSON_AddNumberToObject(t, "p_holm", pair_p[(size_t)k * np + i]);
            cJSON_AddBoolToObject(t, "significant", pair_p[(size_t)k * np + i] < STATS_ALPHA);
            cJSON_AddItemToArray(list, t);
        }
    }
    return tests;
}

int cmd_music_table(int argc, char **argv) {
    const char *out = NULL, *generation = NULL, *reference = "validation", *claim_a = NULL;
    const char *specs[MAX_SETS];
    int n = 0;
    const TbOption opts[] = {
        TB_OPT("--out", TB_OPT_STRING, &out), TB_OPT("--generation", TB_OPT_STRING, &generation),
        TB_OPT("--reference", TB_OPT_STRING, &reference), TB_OPT("--claim-a", TB_OPT_STRING, &claim_a),
        {.name = NULL, .kind = TB_OPT_LIST, .dest = specs, .seen = &n, .max = MAX_SETS}};
    int rc = tb_command_start(tb_parse_options("music-table", argc, argv, opts, TB_OPTIONS(opts)), usage);
    if (rc != TB_COMMAND_GO_ON) return rc;
    if (!out || n == 0)
        return tb_error("music-table needs --out PREFIX and at least one NAME=METRICS.json"), tb_exit_usage();
    Set sets[MAX_SETS];
    memset(sets, 0, sizeof sets);
    for (int r = 0; r < n; r++) {
        const char *eq = strchr(specs[r], '=');
        if (!eq) return tb_error("music-table: '%s' is not NAME=METRICS.json", specs[r]), tb_exit_usage();
        sets[r].name = specs[r], sets[r].path = eq + 1;
        ((char *)eq)[0] = '\0';  // argv's own text: the name ends there
    }
    int ref = -1;
    rc = 0;
    for (int r = 0; r < n && !rc; r++) {
        rc = read_set(&sets[r]);
        if (tb_streq(sets[r].name, reference)) ref = r;
    }
    if (rc) {
        tb_report();
        for (int r = 0; r < n; r++) set_free(&sets[r]);
        return 1;
    }

    // Each set against the reference, Holm over the sets, per metric.
    double vs_ref[MAX_SETS][MUSIC_NUM_METRICS];
    for (int k = 0; k < MUSIC_NUM_METRICS; k++) {
        double p[MAX_SETS];
        int m = 0;
        for (int r = 0; r < n; r++)
            if (r != ref && ref >= 0) p[m++] = test_pair(&sets[r], &sets[ref], k);
        stats_holm(p, m);
        for (int r = 0, i = 0; r < n; r++) vs_ref[r][k] = r != ref && ref >= 0 ? p[i++] : NAN;
    }
    // Every pair of the other sets, Holm over the pairs, per metric.
    int pa[MAX_SETS * MAX_SETS / 2], pb[MAX_SETS * MAX_SETS / 2], np = 0;
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            if (a != ref && b != ref) pa[np] = a, pb[np] = b, np++;
    double *pair_p = tb_malloc((size_t)(np ? np : 1) * MUSIC_NUM_METRICS * sizeof *pair_p);
    double *pair_raw = tb_malloc((size_t)(np ? np : 1) * MUSIC_NUM_METRICS * sizeof *pair_raw);
    for (int k = 0; k < MUSIC_NUM_METRICS; k++) {
        double *p = pair_p + (size_t)k * np;
        for (int i = 0; i < np; i++) p[i] = pair_raw[(size_t)k * np + i] = test_pair(&sets[pa[i]], &sets[pb[i]], k);
        stats_holm(p, np);
    }

    Comparison cmp = {sets, n, ref, np, reference, vs_ref, pa, pb, pair_p, pair_raw};
    Text md = {0}, tex = {0}, dat = {0}, pmd = {0}, ptex = {0};
    main_tables(&cmp, &md, &tex);
    figure_data(&cmp, &dat);
    pair_tables(&cmp, &pmd, &ptex);
    cJSON *tests = tests_json(&cmp);

    char dir[4096];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0', rc = tb_mkdirs(dir);
    if (!rc) rc = write_text(out, ".md", &md);
    if (!rc) rc = write_text(out, ".tex", &tex);
    if (!rc) rc = write_text(out, ".dat", &dat);
    if (!rc) rc = write_text(out, "_pairs.md", &pmd);
    if (!rc) rc = write_text(out, "_pairs.tex", &ptex);
    Text cmd_ = {0}, ctex = {0};
    write_claims(sets, n, claim_a, &cmd_, &ctex);
    if (!rc) rc = write_text(out, "_claims.md", &cmd_);
    if (!rc) rc = write_text(out, "_claims.tex", &ctex);
    free(cmd_.data), free(ctex.data);
    char path[4200];
    snprintf(path, sizeof path, "%s_tests.json", out);
    if (!rc) rc = tb_json_write(path, tests);
    if (!rc && generation) rc = write_generation_facts(out, generation);
    if (!rc) fwrite(md.data, 1, md.len, stdout);
    else tb_report();
    cJSON_Delete(tests);
    free(md.data), free(tex.data), free(dat.data), free(pmd.data), free(ptex.data);
    free(pair_p), free(pair_raw);
    for (int r = 0; r < n; r++) set_free(&sets[r]);
    return rc ? 1 : 0;
}
