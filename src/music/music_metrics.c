// music_metrics.c: per-tune metrics, the novelty index and distribution
// comparisons. See music_metrics.h for what each metric means.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "music_metrics.h"

// ---------------------------------------------------------------- hash set
void hashset_init(HashSet64 *s) { memset(s, 0, sizeof *s); }
void hashset_free(HashSet64 *s) {
    free(s->slots);
    memset(s, 0, sizeof *s);
}

static void hashset_insert_slot(uint64_t *slots, size_t cap, uint64_t h) {
    size_t i = (size_t)(h ^ (h >> 29)) & (cap - 1);
    while (slots[i] && slots[i] != h) i = (i + 1) & (cap - 1);
    slots[i] = h;
}

void hashset_add(HashSet64 *s, uint64_t h) {
    if (!h) h = 1;
    if (2 * (s->count + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        uint64_t *slots = tb_calloc(cap, sizeof *slots);
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i]) hashset_insert_slot(slots, cap, s->slots[i]);
        free(s->slots);
        s->slots = slots, s->cap = cap;
    }
    if (!hashset_has(s, h)) {
        hashset_insert_slot(s->slots, s->cap, h);
        s->count++;
    }
}

int hashset_has(const HashSet64 *s, uint64_t h) {
    if (!h) h = 1;
    if (!s->cap) return 0;
    size_t i = (size_t)(h ^ (h >> 29)) & (s->cap - 1);
    while (s->slots[i]) {
        if (s->slots[i] == h) return 1;
        i = (i + 1) & (s->cap - 1);
    }
    return 0;
}

// ---------------------------------------------------------------- novelty
uint64_t music_bar_hash(const MusicTune *t, int bar) {
    const TuneBar *b = &t->bars[bar];
    return tb_hash64(t->bar_text + b->text_offset, (size_t)b->text_length, TB_HASH64_SEED);
}

uint64_t music_span_hash(const MusicTune *t, int first_bar, int nbars) {
    uint64_t h[16];
    if (nbars > 16) nbars = 16;
    for (int k = 0; k < nbars; k++) h[k] = music_bar_hash(t, first_bar + k);
    return tb_hash64(h, (size_t)nbars * sizeof h[0], TB_HASH64_SEED ^ 0x5bd1e995u);
}

void novelty_init(NoveltyIndex *ix) {
    memset(ix, 0, sizeof *ix);
    hashset_init(&ix->bars);
    hashset_init(&ix->spans4);
}

void novelty_add_tune(NoveltyIndex *ix, const MusicTune *t) {
    for (int b = 0; b < t->num_bars; b++) hashset_add(&ix->bars, music_bar_hash(t, b));
    for (int b = 0; b + MUSIC_SPAN <= t->num_bars; b++)
        hashset_add(&ix->spans4, music_span_hash(t, b, MUSIC_SPAN));
    ix->tunes++;
}

static void novelty_add_one(const char *text, size_t len, void *ctx) {
    MusicTune t;
    tune_parse(&t, text, len);
    novelty_add_tune((NoveltyIndex *)ctx, &t);
    tune_free(&t);
}

void novelty_add_text(NoveltyIndex *ix, const char *text, size_t len) {
    music_split_tunes(text, len, novelty_add_one, ix);
}

void novelty_free(NoveltyIndex *ix) {
    hashset_free(&ix->bars);
    hashset_free(&ix->spans4);
}

// ---------------------------------------------------------------- one tune
int music_bar_is_checked(const TuneBar *b) {
    return b->expected.num > 0 && !(b->flags & BAR_MULTI_REST);
}

int music_bar_is_consistent(const TuneBar *b) {
    if (!music_bar_is_checked(b)) return 0;
    int c = rat_cmp(b->duration, b->expected);
    if (c == 0) return 1;
    const int may_be_short = BAR_FIRST | BAR_AFTER_SECTION | BAR_BEFORE_SECTION | BAR_VOLTA;
    return c < 0 && b->duration.num > 0 && (b->flags & may_be_short);
}

double music_entropy_bits(const int *counts, int n) {
    double total = 0, h = 0;
    for (int i = 0; i < n; i++) total += counts[i];
    if (total <= 0) return 0;
    for (int i = 0; i < n; i++)
        if (counts[i] > 0) {
            double p = counts[i] / total;
            h -= p * log2(p);
        }
    return h;
}

void music_tune_metrics(const MusicTune *t, size_t abc_bytes, const NoveltyIndex *train,
                        TuneMetrics *m) {
    memset(m, 0, sizeof *m);
    m->checker_errors = t->num_errors;
    m->checker_warnings = t->num_warnings;
    m->checker_valid = t->num_errors == 0;
    m->control_present = -1, m->control_s_match = -1;

    m->bars = t->num_bars;
    for (int b = 0; b < t->num_bars; b++) {
        m->bars_checked += music_bar_is_checked(&t->bars[b]);
        m->bars_consistent += music_bar_is_consistent(&t->bars[b]);
    }

    m->notes = t->num_notes;
    m->pitch_min = m->pitch_max = m->pitch_range = -1;
    for (int k = 0; k < t->num_notes; k++) {
        const TuneNote *n = &t->notes[k];
        int pc = n->pitch % 12;
        m->pitch_class_count[pc]++;
        if (n->key_mask) {
            m->notes_key_checked++;
            m->notes_in_key += (n->key_mask >> pc) & 1;
        }
        if (m->pitch_min < 0 || n->pitch < m->pitch_min) m->pitch_min = n->pitch;
        if (n->pitch > m->pitch_max) m->pitch_max = n->pitch;
    }
    if (t->num_notes) m->pitch_range = m->pitch_max - m->pitch_min;
    m->pitch_class_entropy = music_entropy_bits(m->pitch_class_count, 12);

    if (train) {
        m->novelty_bars = t->num_bars;
        for (int b = 0; b < t->num_bars; b++)
            m->novelty_bars_in_train += hashset_has(&train->bars, music_bar_hash(t, b));
        for (int b = 0; b + MUSIC_SPAN <= t->num_bars; b++) {
            m->novelty_spans++;
            m->novelty_spans_in_train += hashset_has(&train->spans4, music_span_hash(t, b, MUSIC_SPAN));
        }
    }
    m->abc_bytes = abc_bytes;
}

// ---------------------------------------------------------------- the metric list
const MusicMetricInfo music_metric_info[MUSIC_NUM_METRICS] = {
#define METRIC(id, label, percent, kind, num, den) {#id, label, percent, kind},
#include "music_metrics.def"
#undef METRIC
};

void music_metric_values(const TuneMetrics *t, double num[MUSIC_NUM_METRICS], double den[MUSIC_NUM_METRICS]) {
#define METRIC(id, label, percent, kind, n, d)      \
    den[MUSIC_METRIC_##id] = (double)(d);            \
    num[MUSIC_METRIC_##id] = den[MUSIC_METRIC_##id] > 0 ? (double)(n) : 0;
#include "music_metrics.def"
#undef METRIC
}

// ---------------------------------------------------------------- distributions
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double *sorted_copy(const double *x, int n) {
    double *s = tb_malloc((size_t)(n ? n : 1) * sizeof *s);
    memcpy(s, x, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return s;
}

void music_stats(const double *x, int n, MusicStats *out) {
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n == 0) {
        out->mean = out->std = out->min = out->median = out->max = NAN;
        return;
    }
    double *s = sorted_copy(x, n);
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) sum += s[i];
    out->mean = sum / n;
    for (int i = 0; i < n; i++) sq += (s[i] - out->mean) * (s[i] - out->mean);
    out->std = n > 1 ? sqrt(sq / (n - 1)) : 0;
    out->min = s[0], out->max = s[n - 1];
    out->median = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    free(s);
}

// W1 = integral of |F_a(x) - F_b(x)| dx over the two empirical CDFs.
double music_wasserstein1(const double *a, int na, const double *b, int nb) {
    if (!na || !nb) return NAN;
    double *sa = sorted_copy(a, na), *sb = sorted_copy(b, nb);
    int i = 0, j = 0;
    double w = 0, x = sa[0] < sb[0] ? sa[0] : sb[0];
    while (i < na || j < nb) {
        double next = (j >= nb || (i < na && sa[i] <= sb[j])) ? sa[i] : sb[j];
        w += fabs((double)i / na - (double)j / nb) * (next - x);
        x = next;
        while (i < na && sa[i] == x) i++;
        while (j < nb && sb[j] == x) j++;
    }
    free(sa), free(sb);
    return w;
}

double music_overlap(const double *a, int na, const double *b, int nb) {
    if (!na || !nb) return NAN;
    double *sa = sorted_copy(a, na), *sb = sorted_copy(b, nb);
    // Walk both sorted samples bin by bin (bin = floor(x)).
    int i = 0, j = 0;
    double overlap = 0;
    while (i < na && j < nb) {
        double ba = floor(sa[i]), bb = floor(sb[j]);
        double bin = ba < bb ? ba : bb;
        int ca = 0, cb = 0;
        while (i < na && floor(sa[i]) == bin) i++, ca++;
        while (j < nb && floor(sb[j]) == bin) j++, cb++;
        double pa = (double)ca / na, pb = (double)cb / nb;
        overlap += pa < pb ? pa : pb;
    }
    free(sa), free(sb);
    return overlap;
}
