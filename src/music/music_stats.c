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

// The finite entries of x, copied.
static double *finite_copy(const double *x, int n, int *out_n) {
    double *c = tb_malloc((size_t)(n > 0 ? n : 1) * sizeof *c);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) c[m++] = x[i];
    *out_n = m;
    return c;
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

Interval stats_bootstrap_mean(const double *x, int n, int resamples, uint64_t seed) {
    int m;
    double *v = finite_copy(x, n, &m);
    if (m == 0 || resamples < 1) {
        free(v);
        return (Interval){NAN, NAN, NAN};
    }
    double sum = 0;
    for (int i = 0; i < m; i++) sum += v[i];
    double *means = tb_malloc((size_t)resamples * sizeof *means);
    Rng rng;
    rng_seed(&rng, seed);
    for (int r = 0; r < resamples; r++) {
        double s = 0;
        for (int i = 0; i < m; i++) s += v[rng_below(&rng, (uint32_t)m)];
        means[r] = s / m;
    }
    qsort(means, (size_t)resamples, sizeof *means, cmp_double);
    Interval out = {sum / m, quantile_sorted(means, resamples, 0.025), quantile_sorted(means, resamples, 0.975)};
    free(means);
    free(v);
    return out;
}

double stats_permutation_p(const double *a, int na, const double *b, int nb, int permutations, uint64_t seed) {
    int ma, mb;
    double *va = finite_copy(a, na, &ma), *vb = finite_copy(b, nb, &mb);
    if (!ma || !mb) {
        free(va), free(vb);
        return 1;
    }
    int n = ma + mb;
    double *pool = tb_malloc((size_t)n * sizeof *pool);
    memcpy(pool, va, (size_t)ma * sizeof *pool);
    memcpy(pool + ma, vb, (size_t)mb * sizeof *pool);
    double total = 0, sa = 0;
    for (int i = 0; i < n; i++) total += pool[i];
    for (int i = 0; i < ma; i++) sa += pool[i];
    double observed = fabs(sa / ma - (total - sa) / mb);
    // Differences within rounding of the observed one count as reaching it.
    double tol = 1e-12 * (fabs(total) + 1);
    Rng rng;
    rng_seed(&rng, seed);
    int reach = 1;  // the observed labelling itself
    for (int p = 0; p < permutations; p++) {
        // A random subset of size ma: a partial Fisher-Yates shuffle.
        double s = 0;
        for (int i = 0; i < ma; i++) {
            int j = i + (int)rng_below(&rng, (uint32_t)(n - i));
            double t = pool[i];
            pool[i] = pool[j], pool[j] = t;
            s += pool[i];
        }
        if (fabs(s / ma - (total - s) / mb) >= observed - tol) reach++;
    }
    free(pool), free(va), free(vb);
    return (double)reach / (permutations + 1);
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
