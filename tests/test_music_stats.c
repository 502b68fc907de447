// test_music_stats.c: the statistics of the music tables and the judge, on
// numbers small enough to work out by hand (the answers are in the
// comments); the judge's score parser; the three corruptions of a tune.
#include <cjson/cJSON.h>
#include <ctype.h>

#include "lib/common.h"
#include "../src/music/judge.h"
#include "../src/music/judge_corrupt.h"
#include "../src/music/music_stats.h"
#include "test.h"

static int near(double got, double want, double tol) { return fabs(got - want) <= tol; }

static void test_intervals(void) {
    // Wilson, z = 1.959964: 14/16 -> [0.63977, 0.96502], 12/16 -> [0.50502, 0.89818],
    // 0/10 -> [0, 0.27753].
    Interval a = stats_wilson(14, 16), b = stats_wilson(12, 16), c = stats_wilson(0, 10);
    CHECK(near(a.estimate, 0.875, 1e-12) && near(a.lo, 0.639771727, 1e-8) && near(a.hi, 0.965022512, 1e-8),
          "Wilson 14/16: %.9f [%.9f, %.9f]", a.estimate, a.lo, a.hi);
    CHECK(near(b.lo, 0.505016835, 1e-8) && near(b.hi, 0.898179325, 1e-8), "Wilson 12/16: [%.9f, %.9f]", b.lo, b.hi);
    CHECK(c.lo == 0 && near(c.hi, 0.277532800, 1e-8), "Wilson 0/10: [%.9f, %.9f]", c.lo, c.hi);
    CHECK(isnan(stats_wilson(0, 0).estimate), "Wilson of nothing is NaN");

    // Bootstrap of a constant is the constant; NaN entries are skipped.
    double flat[5] = {2, 2, NAN, 2, 2};
    Interval f = stats_bootstrap_mean(flat, 5, 500, 1);
    CHECK(f.estimate == 2 && f.lo == 2 && f.hi == 2, "bootstrap of a constant: %g [%g, %g]", f.estimate, f.lo, f.hi);
    // 50 zeros and 50 ones: mean 0.5, standard error 0.05, so about 0.5 -+ 0.098.
    double coin[100];
    for (int i = 0; i < 100; i++) coin[i] = i % 2;
    Interval k = stats_bootstrap_mean(coin, 100, STATS_BOOTSTRAP_RESAMPLES, STATS_SEED);
    Interval k2 = stats_bootstrap_mean(coin, 100, STATS_BOOTSTRAP_RESAMPLES, STATS_SEED);
    CHECK(k.estimate == 0.5 && k.lo > 0.38 && k.lo < 0.42 && k.hi > 0.58 && k.hi < 0.62,
          "bootstrap of 50/50: %g [%g, %g]", k.estimate, k.lo, k.hi);
    CHECK(k.lo == k2.lo && k.hi == k2.hi, "the bootstrap is reproducible from its seed");
}

static void test_permutation(void) {
    double a[10], b[10];
    for (int i = 0; i < 10; i++) a[i] = i, b[i] = 100 + i;
    // Only the observed split (and its mirror, which a random subset of 10
    // of 20 hits with probability 1/184756 per draw) is as extreme.
    double p = stats_permutation_p(a, 10, b, 10, 2000, 3);
    CHECK(p < 0.002, "separated groups: p = %g", p);
    // The same values in both groups: every relabelling reaches a difference of 0.
    CHECK(stats_permutation_p(a, 10, a, 10, 2000, 3) == 1, "identical groups: p = 1");
    // Overlapping groups {0..9} vs {1..10}: far from significant.
    for (int i = 0; i < 10; i++) b[i] = i + 1;
    p = stats_permutation_p(a, 10, b, 10, 2000, 3);
    CHECK(p > 0.3, "overlapping groups: p = %g", p);
    CHECK(stats_permutation_p(a, 0, b, 10, 100, 3) == 1, "an empty group: p = 1");
}

static void test_ratios_and_holm(void) {
    // Units of 1 of 2 each: every resample is 1/2.
    double n1[3] = {1, 1, 1}, d1[3] = {2, 2, 2};
    Interval r = stats_bootstrap_ratio(n1, d1, 3, 500, 1);
    CHECK(r.estimate == 0.5 && r.lo == 0.5 && r.hi == 0.5, "ratio of equal units: %g [%g, %g]", r.estimate, r.lo, r.hi);
    // Units 0/1 and 4/4: 4/5 pooled; a resample is 0 (both first), 1 (both
    // second) or 4/5, each extreme with probability 1/4, so the 2.5% and
    // 97.5% quantiles are 0 and 1. A unit with den 0 takes no part.
    double n2[3] = {0, 4, 7}, d2[3] = {1, 4, 0};
    r = stats_bootstrap_ratio(n2, d2, 3, 2000, 1);
    CHECK(near(r.estimate, 0.8, 1e-12) && r.lo == 0 && r.hi == 1, "pooled ratio: %g [%g, %g]", r.estimate, r.lo, r.hi);
    // a = {1/1, 1/1}, b = {0/1, 0/1}: 2 of the 6 ways to split 4 units in
    // two pairs are as extreme, so p is about 1/3.
    double na[2] = {1, 1}, nb[2] = {0, 0}, ones[2] = {1, 1};
    double p = stats_permutation_ratio_p(na, ones, 2, nb, ones, 2, 2000, 5);
    CHECK(p > 0.30 && p < 0.37, "permutation p of a 2-vs-2 split: %g, want about 1/3", p);
    // Holm: {0.01, 0.04, 0.03} -> 0.01 * 3, max(0.03 * 2, 0.03), max(0.04 * 1, 0.06).
    double h[3] = {0.01, 0.04, 0.03};
    stats_holm(h, 3);
    CHECK(near(h[0], 0.03, 1e-15) && near(h[1], 0.06, 1e-15) && near(h[2], 0.06, 1e-15), "Holm: %g %g %g", h[0], h[1],
          h[2]);
    double q[4] = {4, 1, 3, 2};
    CHECK(stats_quantile(q, 4, 0.5) == 2.5 && stats_quantile(q, 4, 1) == 4 && isnan(stats_quantile(q, 0, 0.5)),
          "quantiles");
}

static void test_agreement(void) {
    // pos {3, 5} vs neg {1, 3}: 3>1, 3=3 (half), 5>1, 5>3: 3.5 / 4.
    double pos[2] = {3, 5}, neg[2] = {1, 3};
    CHECK(stats_auc(pos, 2, neg, 2) == 0.875, "AUC: %g", stats_auc(pos, 2, neg, 2));
    CHECK(isnan(stats_auc(pos, 2, neg, 0)), "AUC with no negatives is NaN");
    // y swaps the middle two: d = 0 1 1 0, rho = 1 - 6 * 2 / (4 * 15) = 0.8.
    double x[4] = {1, 2, 3, 4}, y[4] = {1, 3, 2, 4};
    CHECK(near(stats_spearman(x, y, 4), 0.8, 1e-12), "Spearman: %g", stats_spearman(x, y, 4));
    // Ties: x ranks 1 2.5 2.5 4 against 1 2 3 4: 4.5 / sqrt(4.5 * 5) = 0.948683.
    double xt[4] = {1, 2, 2, 3};
    CHECK(near(stats_spearman(xt, x, 4), 0.9486832981, 1e-9), "Spearman with ties: %g", stats_spearman(xt, x, 4));
    double constant[4] = {2, 2, 2, 2};
    CHECK(isnan(stats_spearman(constant, x, 4)), "Spearman with a constant side is NaN");
    // Krippendorff, interval: units (1,1) (1,2) (3,3): D_o = 2/6, D_e = 58/30,
    // alpha = 1 - (1/3) / (29/15) = 0.827586; units (1,2) (2,1): alpha = -0.5.
    double v1[6] = {1, 1, 3, /* rater 2 */ 1, 2, 3};
    CHECK(near(stats_krippendorff_interval(v1, 2, 3), 0.8275862069, 1e-9), "alpha: %g",
          stats_krippendorff_interval(v1, 2, 3));
    double v2[4] = {1, 2, 2, 1};
    CHECK(near(stats_krippendorff_interval(v2, 2, 2), -0.5, 1e-12), "alpha of swapped values");
    // A unit with one value is left out: (1,1) (2,2) (3,-) agree perfectly.
    double v3[6] = {1, 2, 3, 1, 2, NAN};
    CHECK(stats_krippendorff_interval(v3, 2, 3) == 1, "alpha with a missing value");
}

static void test_scores(void) {
    double s[JUDGE_NUM_ASPECTS];
    CHECK(judge_parse_scores("Sure!\n```json\n{\"musicality\": 7, \"harmony\": 5, \"coherence\": 6.5}\n```", s) == 0 &&
              s[0] == 7 && s[1] == 5 && s[2] == 6.5,
          "scores in a fenced block");
    CHECK(judge_parse_scores("{not json} then {\"coherence\": 2, \"harmony\": 3, \"musicality\": 4}", s) == 0 &&
              s[0] == 4 && s[1] == 3 && s[2] == 2,
          "the first object with all three scores");
    CHECK(judge_parse_scores("{\"musicality\": 11, \"harmony\": 5, \"coherence\": 6}", s) != 0, "11 is out of range");
    CHECK(judge_parse_scores("{\"musicality\": \"7\", \"harmony\": 5, \"coherence\": 6}", s) != 0, "a string score");
    CHECK(judge_parse_scores("{\"musicality\": 7, \"harmony\": 5}", s) != 0, "a missing aspect");
    CHECK(judge_parse_scores("It is lovely.", s) != 0 && judge_parse_scores(NULL, s) != 0, "no JSON at all");
    CHECK(judge_parse_scores("{\"musicality\": 7, {", s) != 0, "an unclosed object");
}

static int count_char(const char *s, char c) {
    int n = 0;
    for (; *s; s++) n += *s == c;
    return n;
}

static void test_corruptions(void) {
    const char *tune = "X:1\nT:Test\nM:4/4\nL:1/8\nK:D\n|:\"D\"DFAd fdAF|GBdg bgdB|\nAcea gecA|d2f2 d4:|\n";
    size_t len = strlen(tune), header = strlen("X:1\nT:Test\nM:4/4\nL:1/8\nK:D\n");
    // Shuffle: the same bars in another order; the bar lines where they were.
    char *s = corrupt_tune(tune, len, CORRUPT_SHUFFLE, 5);
    CHECK(strncmp(s, tune, header) == 0 && strlen(s) == len, "shuffle keeps the header and the length: %s", s);
    const char *bars[4] = {"\"D\"DFAd fdAF", "GBdg bgdB", "Acea gecA", "d2f2 d4"};
    int found = 1;
    for (int i = 0; i < 4; i++) found &= strstr(s + header, bars[i]) != NULL;
    CHECK(found && strcmp(s, tune) != 0, "shuffle moves whole bars: %s", s);
    CHECK(s[header] == '|' && s[header + 1] == ':' && strstr(s, ":|\n") != NULL, "repeat signs stay: %s", s);
    char *again = corrupt_tune(tune, len, CORRUPT_SHUFFLE, 5);
    CHECK(strcmp(s, again) == 0, "shuffle is deterministic in its seed");
    free(s), free(again);
    // Randomise: only note letters change; the chord symbol "D" and the header stay.
    s = corrupt_tune(tune, len, CORRUPT_RANDOMISE, 9);
    int others_same = strlen(s) == len && strncmp(s, tune, header) == 0, changed = 0;
    for (size_t i = header; i < len && others_same; i++) {
        int letter = strchr("ABCDEFGabcdefg", tune[i]) && tune[i];
        if (letter && !(i == header + 3)) {
            changed += s[i] != tune[i];
            others_same &= (islower((unsigned char)s[i]) != 0) == (islower((unsigned char)tune[i]) != 0);
        } else {
            others_same &= s[i] == tune[i];
        }
    }
    CHECK(others_same && changed >= 10, "random pitches: %d of 32 letters changed, the rest kept: %s", changed, s);
    free(s);
    // Truncate: the body (46 bytes) is cut at the bar line nearest its middle
    // (23): after "GBdg bgdB|", at 25.
    s = corrupt_tune(tune, len, CORRUPT_TRUNCATE, 1);
    CHECK(strcmp(s + header, "|:\"D\"DFAd fdAF|GBdg bgdB|\n") == 0, "truncated: '%s'", s + header);
    CHECK(count_char(s, 'X') == 1, "the header is kept");
    free(s);
    CHECK(tb_streq(corruption_name(CORRUPT_TRUNCATE), "truncated"), "corruption names");
}

int main(void) {
    test_intervals();
    test_permutation();
    test_ratios_and_holm();
    test_agreement();
    test_scores();
    test_corruptions();
    return test_summary("test_music_stats");
}
