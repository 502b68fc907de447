// music_features.c: feature vectors and Yang & Lerch's comparison (music_features.h).
#include "music_features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"

const char *const music_feature_names[FEATURE_COUNT] = {
#define X(name, dims) #name,
    MUSIC_FEATURES(X)
#undef X
};
const int music_feature_dims[FEATURE_COUNT] = {
#define X(name, dims) dims,
    MUSIC_FEATURES(X)
#undef X
};
const int music_feature_offset[FEATURE_COUNT] = {0, 12, 12 + 25, 12 + 25 + 10};

int music_tune_features(const MusicTune *t, double out[MUSIC_FEATURE_TOTAL]) {
    memset(out, 0, MUSIC_FEATURE_TOTAL * sizeof *out);
    if (t->num_notes == 0) return 0;
    double *pc = out + music_feature_offset[FEATURE_pitch_class];
    double *iv = out + music_feature_offset[FEATURE_interval];
    double *len = out + music_feature_offset[FEATURE_note_length];
    int lo = t->notes[0].pitch, hi = lo, steps = 0, timed = 0;
    for (int k = 0; k < t->num_notes; k++) {
        const TuneNote *n = &t->notes[k];
        pc[n->pitch % 12] += 1;
        if (n->pitch < lo) lo = n->pitch;
        if (n->pitch > hi) hi = n->pitch;
        if (k > 0) {
            int d = n->pitch - t->notes[k - 1].pitch;
            iv[(d < -12 ? -12 : d > 12 ? 12 : d) + 12] += 1, steps++;
        }
        if (n->duration > 0) {
            // Bins at log2 of 1/32 ... 1: -5, -4, -3.415, -3, -2.415, -2, -1.415, -1, -0.415, 0.
            static const double bins[10] = {-5, -4, -3.4150375, -3, -2.4150375, -2, -1.4150375, -1, -0.4150375, 0};
            double x = log2(n->duration);
            int best = 0;
            for (int b = 1; b < 10; b++)
                if (fabs(x - bins[b]) < fabs(x - bins[best])) best = b;
            len[best] += 1, timed++;
        }
    }
    for (int i = 0; i < 12; i++) pc[i] /= t->num_notes;
    for (int i = 0; i < 25 && steps; i++) iv[i] /= steps;
    for (int i = 0; i < 10 && timed; i++) len[i] /= timed;
    out[music_feature_offset[FEATURE_pitch_range]] = hi - lo;
    return 1;
}

// ---------------------------------------------------------------- densities
#define GRID 512

// A Gaussian kernel density of x on the grid [0, top], by linear binning
// then a direct convolution (the grid is small). Integrates to 1.
static void density(const double *x, int n, double top, double *out) {
    double mean = 0, sq = 0;
    for (int i = 0; i < n; i++) mean += x[i];
    mean /= n;
    for (int i = 0; i < n; i++) sq += (x[i] - mean) * (x[i] - mean);
    double sd = n > 1 ? sqrt(sq / (n - 1)) : 0;
    double step = top / (GRID - 1);
    double h = 1.06 * sd * pow(n, -0.2);
    if (h < 2 * step) h = 2 * step;  // a constant sample still gets a bump
    double counts[GRID] = {0};
    for (int i = 0; i < n; i++) {
        double pos = x[i] / step;
        int j = (int)floor(pos);
        if (j >= GRID - 1) j = GRID - 2;
        if (j < 0) j = 0;
        double f = pos - j;
        counts[j] += 1 - f, counts[j + 1] += f;
    }
    int reach = (int)ceil(4 * h / step);
    double total = 0;
    for (int g = 0; g < GRID; g++) {
        double s = 0;
        for (int j = g - reach; j <= g + reach; j++) {
            if (j < 0 || j >= GRID || counts[j] == 0) continue;
            double z = (g - j) * step / h;
            s += counts[j] * exp(-0.5 * z * z);
        }
        out[g] = s, total += s * step;
    }
    for (int g = 0; g < GRID; g++) out[g] = total > 0 ? out[g] / total : 0;
}

void music_density_compare(const double *p, int np, const double *q, int nq, double *overlap, double *kl) {
    *overlap = *kl = NAN;
    if (np < 1 || nq < 1) return;
    double top = 0;
    for (int i = 0; i < np; i++) top = p[i] > top ? p[i] : top;
    for (int i = 0; i < nq; i++) top = q[i] > top ? q[i] : top;
    top = top > 0 ? top * 1.25 : 1;
    double dp[GRID], dq[GRID], step = top / (GRID - 1);
    density(p, np, top, dp);
    density(q, nq, top, dq);
    double oa = 0, k = 0;
    for (int g = 0; g < GRID; g++) {
        oa += (dp[g] < dq[g] ? dp[g] : dq[g]) * step;
        if (dp[g] > 1e-12) k += dp[g] * log(dp[g] / (dq[g] > 1e-12 ? dq[g] : 1e-12)) * step;
    }
    *overlap = oa > 1 ? 1 : oa;
    *kl = k < 0 ? 0 : k;
}

static double distance(const double *a, const double *b, int dims) {
    double s = 0;
    for (int i = 0; i < dims; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(s);
}

void music_yang_lerch(const double *ref, int nref, const double *set, int nset, MusicFeature f, double *overlap,
                      double *kl) {
    *overlap = *kl = NAN;
    if (nref < 2 || nset < 1) return;
    int off = music_feature_offset[f], dims = music_feature_dims[f];
    size_t nintra = (size_t)nref * (nref - 1) / 2, ninter = (size_t)nref * nset;
    double *intra = tb_malloc(nintra * sizeof *intra), *inter = tb_malloc(ninter * sizeof *inter);
    size_t k = 0;
    for (int i = 0; i < nref; i++)
        for (int j = i + 1; j < nref; j++)
            intra[k++] = distance(ref + (size_t)i * MUSIC_FEATURE_TOTAL + off, ref + (size_t)j * MUSIC_FEATURE_TOTAL + off, dims);
    k = 0;
    for (int i = 0; i < nset; i++)
        for (int j = 0; j < nref; j++)
            inter[k++] = distance(set + (size_t)i * MUSIC_FEATURE_TOTAL + off, ref + (size_t)j * MUSIC_FEATURE_TOTAL + off, dims);
    music_density_compare(intra, (int)nintra, inter, (int)ninter, overlap, kl);
    free(intra), free(inter);
}
