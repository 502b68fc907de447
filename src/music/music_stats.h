// music_stats.h: the statistics that turn per-tune numbers into claims.
//
//   intervals   Wilson 95% for a proportion (k of n); percentile bootstrap
//               95% for the mean of any per-tune value (fixed seed, stated
//               number of resamples, so that a table is reproducible);
//   tests       two-sided permutation test of a difference in means (the
//               p-value of a model-vs-model difference);
//   agreement   AUC (Mann-Whitney, ties count one half), Spearman's rho
//               (average ranks for ties), Krippendorff's alpha for interval
//               data (two or more raters, missing values allowed).
#ifndef TB_MUSIC_STATS_H
#define TB_MUSIC_STATS_H

#include <stdint.h>

#define STATS_BOOTSTRAP_RESAMPLES 2000
#define STATS_PERMUTATIONS 2000
#define STATS_SEED 20240901u
#define STATS_ALPHA 0.05  // a difference is called one when p < STATS_ALPHA

typedef struct {
    double estimate, lo, hi;  // NaN when there is nothing to estimate
} Interval;

// Wilson score interval at 95% for k successes of n.
Interval stats_wilson(int k, int n);

// Percentile bootstrap 95% interval of the mean of x[0..n), `resamples`
// resamples drawn from an Rng seeded with `seed`. NaN entries are skipped.
Interval stats_bootstrap_mean(const double *x, int n, int resamples, uint64_t seed);

// The same for a ratio of sums, sum(num) / sum(den), resampling the n units
// (tunes) whole: a pooled share of bars or notes. Units with den <= 0 or a
// NaN are left out; a resample whose den sums to 0 counts as NaN and is
// dropped (the interval is then over fewer resamples).
Interval stats_bootstrap_ratio(const double *num, const double *den, int n, int resamples, uint64_t seed);

// Two-sided permutation test of mean(a) - mean(b): the share of `permutations`
// random relabellings (plus the observed one) whose |difference| is at
// least the observed one. NaN entries are skipped; 1 when either is empty.
double stats_permutation_p(const double *a, int na, const double *b, int nb, int permutations, uint64_t seed);

// The same test of sum(num_a)/sum(den_a) - sum(num_b)/sum(den_b), units
// (tunes) relabelled whole; units with den <= 0 or a NaN are left out.
double stats_permutation_ratio_p(const double *num_a, const double *den_a, int na, const double *num_b,
                                 const double *den_b, int nb, int permutations, uint64_t seed);

// The q-quantile of x[0..n) (linear interpolation between order
// statistics, R's type 7); sorts x. NaN when n is 0.
double stats_quantile(double *x, int n, double q);

// Holm's step-down adjustment of m p-values in place (each becomes the
// smallest family-wise level at which it is rejected).
void stats_holm(double *p, int m);

// P(a score of pos > a score of neg) + P(equal) / 2; NaN if either is empty.
double stats_auc(const double *pos, int npos, const double *neg, int nneg);

// Spearman's rank correlation of paired x, y (NaN pairs skipped); NaN when
// fewer than 2 pairs or a constant side.
double stats_spearman(const double *x, const double *y, int n);

// Krippendorff's alpha, interval metric. values[r * units + u] is rater r's
// value for unit u, NaN when missing; units with fewer than two values are
// left out. NaN when no pairable values or no variation at all.
double stats_krippendorff_interval(const double *values, int raters, int units);

#endif
