// music_stats.c: intervals, permutation tests and agreement measures.
#include "music_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"

static const double Z95 = 1.959963984540054;

Interval stats_wilson(int k, int n) {
    if (n <= 0) return (Interval){NAN, NAN, NAN};
    double p = (double)k / n, z2 = Z95 * Z95;
    double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
    double half = Z95 * sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / (1 + z2 / n);
    double lo = centre - half, hi = centre + half;
    return (Interval){p, lo < 0 ? 0 : lo, hi > 1 ? 1 : hi};
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// The q-quantile of sorted s[0..n) by linear interpolation (type 7).
static double quantile_sorted(const double *s, int n, double q) {
    double pos = q * (n - 1);
    int i = (int)floor(pos);
    if (i >= n - 1) return s[n - 1];
    return s[i] + (pos - i) * (s[i + 1] - s[i]);
}

// The units with a finite num and a positive finite den.
static int usable_units(const double *num, const double *den, int n, double *un, double *ud) {
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(num[i]) && isfinite(den[i]) && den[i] > 0) un[m] = num[i], ud[m] = den[i], m++;
    return m;
}

Interval stats_bootstrap_ratio(const double *num, const double *den, int n, int resamples, uint64_t seed) {
    double *un = tb_malloc((size_t)(n > 0 ? n : 1) * sizeof *un), *ud = tb_malloc((size_t)(n > 0 ? n : 1) * sizeof *ud);
    int m = usable_units(num, den, n, un, ud);
    Interval out = {NAN, NAN, NAN};
    if (m > 0 && resamples > 0) {
        double sn = 0, sd = 0;
        for (int i = 0; i < m; i++) sn += un[i], sd += ud[i];
        double *r = tb_malloc((size_t)resamples * sizeof *r);
        Rng rng;
        rng_seed(&rng, seed);
        int kept = 0;
        for (int k = 0; k < resamples; k++) {
            double a = 0, b = 0;
            for (int i = 0; i < m; i++) {
                int j = (int)rng_below(&rng, (uint32_t)m);
                a += un[j], b += ud[j];
            }
            if (b > 0) r[kept++] = a / b;
        }
        qsort(r, (size_t)kept, sizeof *r, cmp_double);
        out = (Interval){sn / sd, quantile_sorted(r, kept, 0.025), quantile_sorted(r, kept, 0.975)};
        free(r);
    }
    free(un), free(ud);
    return out;
}

Interval stats_bootstrap_mean(const double *x, int n, int resamples, uint64_t seed) {
    double *ones = tb_malloc((size_t)(n > 0 ? n : 1) * sizeof *ones);
    for (int i = 0; i < n; i++) ones[i] = 1;
    Interval out = stats_bootstrap_ratio(x, ones, n, resamples, seed);
    free(ones);
    return out;
}

double stats_permutation_ratio_p(const double *num_a, const double *den_a, int na, const double *num_b,
                                 const double *den_b, int nb, int permutations, uint64_t seed) {
    int cap = na + nb > 0 ? na + nb : 1;
    double *pn = tb_malloc((size_t)cap * sizeof *pn), *pd = tb_malloc((size_t)cap * sizeof *pd);
    int ma = usable_units(num_a, den_a, na, pn, pd);
    int mb = usable_units(num_b, den_b, nb, pn + ma, pd + ma);
    if (!ma || !mb) {
        free(pn), free(pd);
        return 1;
    }
    int n = ma + mb;
    double tn = 0, td = 0, an = 0, ad = 0;
    for (int i = 0; i < n; i++) tn += pn[i], td += pd[i];
    for (int i = 0; i < ma; i++) an += pn[i], ad += pd[i];
    double observed = fabs(an / ad - (tn - an) / (td - ad));
    // Differences within rounding of the observed one count as reaching it.
    double tol = 1e-9 * (observed + 1e-300) + 1e-12;
    Rng rng;
    rng_seed(&rng, seed);
    int reach = 1;  // the observed labelling itself
    for (int p = 0; p < permutations; p++) {
        // A random subset of size ma: a partial Fisher-Yates shuffle.
        double sn = 0, sd = 0;
        for (int i = 0; i < ma; i++) {
            int j = i + (int)rng_below(&rng, (uint32_t)(n - i));
            double t = pn[i];
            pn[i] = pn[j], pn[j] = t;
            t = pd[i];
            pd[i] = pd[j], pd[j] = t;
            sn += pn[i], sd += pd[i];
        }
        double rest = td - sd;
        if (sd <= 0 || rest <= 0) continue;  // an empty side: no statistic
        if (fabs(sn / sd - (tn - sn) / rest) >= observed - tol) reach++;
    }
    free(pn), free(pd);
    return (double)reach / (permutations + 1);
}

double stats_permutation_p(const double *a, int na, const double *b, int nb, int permutations, uint64_t seed) {
    int cap = na > nb ? na : nb;
    double *ones = tb_malloc((size_t)(cap > 0 ? cap : 1) * sizeof *ones);
    for (int i = 0; i < cap; i++) ones[i] = 1;
    double p = stats_permutation_ratio_p(a, ones, na, b, ones, nb, permutations, seed);
    free(ones);
    return p;
}

double stats_quantile(double *x, int n, double q) {
    if (n <= 0) return NAN;
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return quantile_sorted(x, n, q);
}

void stats_holm(double *p, int m) {
    int *order = tb_malloc((size_t)(m > 0 ? m : 1) * sizeof *order);
    for (int i = 0; i < m; i++) order[i] = i;
    // Insertion sort by p (m is a handful of comparisons).
    for (int i = 1; i < m; i++)
        for (int j = i; j > 0 && p[order[j]] < p[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1], order[j - 1] = t;
        }
    double running = 0;
    for (int k = 0; k < m; k++) {
        double adj = (m - k) * p[order[k]];
        if (adj > 1) adj = 1;
        if (adj < running) adj = running;
        running = adj;
        p[order[k]] = adj;
    }
    free(order);
}

double stats_auc(const double *pos, int npos, const double *neg, int nneg) {
    if (npos <= 0 || nneg <= 0) return NAN;
    double wins = 0;
    for (int i = 0; i < npos; i++)
        for (int j = 0; j < nneg; j++) wins += pos[i] > neg[j] ? 1 : pos[i] == neg[j] ? 0.5 : 0;
    return wins / ((double)npos * nneg);
}

typedef struct {
    double v;
    int i;
} Ranked;

static int cmp_ranked(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v ? 1 : x->i - y->i;
}

// Average ranks (1-based) of x[0..n), ties sharing the mean of their ranks.
static void average_ranks(const double *x, int n, double *rank) {
    Ranked *r = tb_malloc((size_t)n * sizeof *r);
    for (int i = 0; i < n; i++) r[i] = (Ranked){x[i], i};
    qsort(r, (size_t)n, sizeof *r, cmp_ranked);
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && r[j + 1].v == r[i].v) j++;
        for (int k = i; k <= j; k++) rank[r[k].i] = 0.5 * (i + j) + 1;
        i = j + 1;
    }
    free(r);
}

double stats_spearman(const double *x, const double *y, int n) {
    double *px = tb_malloc((size_t)(n > 0 ? n : 1) * sizeof *px), *py = tb_malloc((size_t)(n > 0 ? n : 1) * sizeof *py);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) px[m] = x[i], py[m] = y[i], m++;
    double rho = NAN;
    if (m >= 2) {
        double *rx = tb_malloc((size_t)m * sizeof *rx), *ry = tb_malloc((size_t)m * sizeof *ry);
        average_ranks(px, m, rx);
        average_ranks(py, m, ry);
        double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < m; i++) mx += rx[i], my += ry[i];
        mx /= m, my /= m;
        for (int i = 0; i < m; i++) {
            sxy += (rx[i] - mx) * (ry[i] - my);
            sxx += (rx[i] - mx) * (rx[i] - mx);
            syy += (ry[i] - my) * (ry[i] - my);
        }
        if (sxx > 0 && syy > 0) rho = sxy / sqrt(sxx * syy);
        free(rx), free(ry);
    }
    free(px), free(py);
    return rho;
}

// Krippendorff (2011), "Computing Krippendorff's alpha-reliability":
// alpha = 1 - D_o / D_e with delta(c, k) = (c - k)^2, where
//   D_o = 1/n * sum_u 1/(m_u - 1) * sum over ordered pairs i != j in u of delta
//   D_e = 1/(n (n - 1)) * sum over ordered pairs i != j of all n pairable values
// and m_u is the number of values of unit u (units with m_u < 2 are left out).
double stats_krippendorff_interval(const double *values, int raters, int units) {
    double n = 0, d_o = 0, sum = 0, sumsq = 0;
    for (int u = 0; u < units; u++) {
        int m = 0;
        double s = 0, sq = 0;
        for (int r = 0; r < raters; r++) {
            double v = values[(size_t)r * units + u];
            if (isfinite(v)) m++, s += v, sq += v * v;
        }
        if (m < 2) continue;
        // sum over ordered pairs of (v_i - v_j)^2 = 2 (m * sum v^2 - (sum v)^2)
        d_o += 2 * (m * sq - s * s) / (m - 1);
        n += m, sum += s, sumsq += sq;
    }
    if (n < 2) return NAN;
    double d_e = 2 * (n * sumsq - sum * sum) / (n * (n - 1));
    d_o /= n;
    if (d_e <= 0) return NAN;
    return 1 - d_o / d_e;
}
