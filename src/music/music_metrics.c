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
    hashset_init(&ix->spans_any);
}

static uint64_t span_key(uint64_t span_hash, int nbars) { return span_hash ^ (0x9e3779b97f4a7c15ULL * (uint64_t)nbars); }

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

// The tune's distinct bar hashes, sorted (malloc'ed; *n of them).
static uint64_t *distinct_bars(const MusicTune *t, int *n) {
    uint64_t *h = tb_malloc((size_t)(t->num_bars ? t->num_bars : 1) * sizeof *h);
    for (int b = 0; b < t->num_bars; b++) h[b] = music_bar_hash(t, b);
    qsort(h, (size_t)t->num_bars, sizeof *h, cmp_u64);
    int m = 0;
    for (int b = 0; b < t->num_bars; b++)
        if (m == 0 || h[m - 1] != h[b]) h[m++] = h[b];
    *n = m;
    return h;
}

void novelty_add_tune(NoveltyIndex *ix, const MusicTune *t) {
    for (int b = 0; b < t->num_bars; b++) hashset_add(&ix->bars, music_bar_hash(t, b));
    for (int b = 0; b + MUSIC_SPAN <= t->num_bars; b++)
        hashset_add(&ix->spans4, music_span_hash(t, b, MUSIC_SPAN));
    for (int b = 0; b < t->num_bars; b++)
        for (int k = 1; k <= MUSIC_COPY_MAX && b + k <= t->num_bars; k++)
            hashset_add(&ix->spans_any, span_key(music_span_hash(t, b, k), k));
    int nd;
    uint64_t *d = distinct_bars(t, &nd);
    if (ix->tunes == ix->cap_tunes) {
        ix->cap_tunes = ix->cap_tunes ? 2 * ix->cap_tunes : 1024;
        ix->tune_distinct = realloc(ix->tune_distinct, (size_t)ix->cap_tunes * sizeof *ix->tune_distinct);
        if (!ix->tune_distinct) tb_die("out of memory indexing the training tunes");
    }
    ix->tune_distinct[ix->tunes] = nd;
    for (int k = 0; k < nd; k++) {
        if (ix->num_postings == ix->cap_postings) {
            ix->cap_postings = ix->cap_postings ? 2 * ix->cap_postings : 4096;
            ix->postings = realloc(ix->postings, ix->cap_postings * sizeof *ix->postings);
            if (!ix->postings) tb_die("out of memory indexing the training tunes");
        }
        ix->postings[ix->num_postings++] = (NoveltyPosting){d[k], ix->tunes};
    }
    free(d);
    ix->tunes++;
    ix->finished = 0;
}

static void novelty_add_one(const char *text, size_t len, void *ctx) {
    MusicTune t;
    tune_parse(&t, text, len);
    novelty_add_tune((NoveltyIndex *)ctx, &t);
    tune_free(&t);
}

void novelty_add_text(NoveltyIndex *ix, const char *text, size_t len) {
    music_split_tunes(text, len, novelty_add_one, ix);
    novelty_finish(ix);
}

static int cmp_posting(const void *a, const void *b) {
    const NoveltyPosting *x = a, *y = b;
    if (x->bar != y->bar) return x->bar < y->bar ? -1 : 1;
    return (x->tune > y->tune) - (x->tune < y->tune);
}

void novelty_finish(NoveltyIndex *ix) {
    if (ix->num_postings > 1) qsort(ix->postings, ix->num_postings, sizeof *ix->postings, cmp_posting);
    ix->finished = 1;
}

void novelty_free(NoveltyIndex *ix) {
    hashset_free(&ix->bars);
    hashset_free(&ix->spans4);
    hashset_free(&ix->spans_any);
    free(ix->postings);
    free(ix->tune_distinct);
    memset(ix, 0, sizeof *ix);
}

// The first posting of bar h (or num_postings).
static size_t postings_lower_bound(const NoveltyIndex *ix, uint64_t h) {
    size_t lo = 0, hi = ix->num_postings;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->postings[mid].bar < h) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

// Jaccard distance of the tune's distinct bars to the nearest training tune's.
static double nearest_neighbour(const NoveltyIndex *ix, const MusicTune *t) {
    int nd;
    uint64_t *d = distinct_bars(t, &nd);
    int *shared = tb_calloc((size_t)(ix->tunes ? ix->tunes : 1), sizeof *shared);
    int *touched = tb_malloc((size_t)(ix->tunes ? ix->tunes : 1) * sizeof *touched);
    int nt = 0;
    for (int k = 0; k < nd; k++)
        for (size_t p = postings_lower_bound(ix, d[k]); p < ix->num_postings && ix->postings[p].bar == d[k]; p++) {
            int u = ix->postings[p].tune;
            if (shared[u]++ == 0) touched[nt++] = u;
        }
    double best = 1;
    for (int i = 0; i < nt; i++) {
        int u = touched[i];
        double dist = 1 - (double)shared[u] / (nd + ix->tune_distinct[u] - shared[u]);
        if (dist < best) best = dist;
    }
    free(d), free(shared), free(touched);
    return best;
}

static int longest_copied_run(const NoveltyIndex *ix, const MusicTune *t) {
    int best = 0;
    for (int b = 0; b < t->num_bars; b++)
        for (int k = best + 1; k <= MUSIC_COPY_MAX && b + k <= t->num_bars; k++) {
            if (!hashset_has(&ix->spans_any, span_key(music_span_hash(t, b, k), k))) break;
            best = k;
        }
    return best;
}

// ---------------------------------------------------------------- structure
double music_edit_distance(const uint64_t *a, int na, const uint64_t *b, int nb) {
    if (na == 0 && nb == 0) return 0;
    return (double)tb_edit_distance(a, (size_t)na, b, (size_t)nb) / (na > nb ? na : nb);
}

void music_tune_structure(const MusicTune *t, TuneMetrics *m) {
    m->repeats = t->num_repeats;
    m->sections = m->parts = m->bars_repeated = 0;
    uint64_t *h = tb_malloc((size_t)(t->num_bars ? t->num_bars : 1) * sizeof *h);
    for (int b = 0; b < t->num_bars; b++) {
        h[b] = music_bar_hash(t, b);
        for (int e = 0; e < b; e++)
            if (h[e] == h[b]) {
                m->bars_repeated++;
                break;
            }
    }
    // Sections: runs of bars up to a section line (or the end).
    int starts[256], ends[256], ns = 0, start = 0;
    for (int b = 0; b < t->num_bars && ns < 256; b++)
        if ((t->bars[b].flags & BAR_BEFORE_SECTION) || b == t->num_bars - 1) starts[ns] = start, ends[ns] = b + 1, ns++, start = b + 1;
    m->sections = ns;
    // Parts: a section is a new part unless half its bars occur in one earlier part's first section.
    int part_of[256];
    for (int s = 0; s < ns; s++) {
        part_of[s] = -1;
        for (int r = 0; r < s && part_of[s] < 0; r++) {
            if (part_of[r] != r) continue;  // compare with each part's first section
            int same = 0, len = ends[s] - starts[s];
            for (int b = starts[s]; b < ends[s]; b++)
                for (int e = starts[r]; e < ends[r]; e++)
                    if (h[b] == h[e]) {
                        same++;
                        break;
                    }
            if (2 * same >= len) part_of[s] = r;
        }
        if (part_of[s] < 0) part_of[s] = s, m->parts++;
    }
    free(h);
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
    unsigned char seen[255] = {0};
    for (int k = 1; k < t->num_notes; k++) {
        int d = t->notes[k].pitch - t->notes[k - 1].pitch + 127;
        m->distinct_intervals += !seen[d];
        seen[d] = 1;
    }
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
    music_tune_structure(t, m);
    m->nn_distance = NAN;
    if (train && train->tunes) {
        if (!train->finished) tb_die("novelty index queried before novelty_finish");
        m->longest_copied_run = longest_copied_run(train, t);
        m->nn_distance = nearest_neighbour(train, t);
    }
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
