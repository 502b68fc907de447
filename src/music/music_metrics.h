// music_metrics.h: objective measures of one tune, and of a set of tunes.
//
// Every metric is computed from a parsed MusicTune (tune.h), so generated tunes
// and the real validation tunes are scored by exactly the same code:
//   syntax      the project's checker, and abc2midi's exit code and its
//               error and warning lines (filled by music_run_abc2midi);
//   bars        the share of bars whose duration equals one bar of M:
//               (pickups allowed at the start, around section lines and
//               volta endings; see music_bar_is_consistent);
//   key         the share of notes whose pitch class lies in the K: scale,
//               and the entropy (bits) of the pitch-class histogram;
//   control     S, B, E recomputed from the tune vs its header's (TunesFormer);
//   novelty     the share of bars, and of 4-bar spans, found verbatim
//               (spaces aside) in the training split;
//   length      bars, notes and ABC bytes; range: highest - lowest MIDI pitch.
#ifndef TB_MUSIC_METRICS_H
#define TB_MUSIC_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "tune.h"

// ---------------------------------------------------------------- hash set
// Open addressing over 64-bit hashes (0 is stored as 1). Grows at half full.
typedef struct {
    uint64_t *slots;
    size_t cap, count;
} HashSet64;

void hashset_init(HashSet64 *s);
void hashset_free(HashSet64 *s);
void hashset_add(HashSet64 *s, uint64_t h);
int hashset_has(const HashSet64 *s, uint64_t h);

// The bars and 4-bar spans of a training split; every span of 1 to
// MUSIC_COPY_MAX bars (for the longest copied run); and which tunes hold each
// bar (for the nearest neighbour). novelty_finish before the first query.
#define MUSIC_COPY_MAX 16
typedef struct {
    uint64_t bar;
    int32_t tune;
} NoveltyPosting;
typedef struct {
    HashSet64 bars, spans4, spans_any;  // spans_any: a span's hash mixed with its length
    NoveltyPosting *postings;           // (bar hash, tune) pairs, sorted by novelty_finish
    int *tune_distinct;                 // distinct bars of each training tune
    size_t num_postings, cap_postings;
    int tunes, cap_tunes, finished;
} NoveltyIndex;

void novelty_init(NoveltyIndex *ix);
void novelty_add_tune(NoveltyIndex *ix, const MusicTune *t);
// Adds every tune of an ABC text (many tunes).
void novelty_add_text(NoveltyIndex *ix, const char *text, size_t len);
void novelty_finish(NoveltyIndex *ix);
void novelty_free(NoveltyIndex *ix);

uint64_t music_bar_hash(const MusicTune *t, int bar);
// A span's hash mixes its bars' hashes in order.
uint64_t music_span_hash(const MusicTune *t, int first_bar, int nbars);

// ---------------------------------------------------------------- one tune
#define MUSIC_SPAN 4  // bars in a span for the memorisation metric

typedef struct {
    // syntax
    int checker_errors, checker_warnings, checker_valid;
    int abc2midi_run;  // 0 if abc2midi was not run; the next four are then 0
    int abc2midi_exit, abc2midi_errors, abc2midi_warnings, abc2midi_valid;
    // bars
    int bars, bars_checked, bars_consistent;
    // key
    int notes, notes_key_checked, notes_in_key;
    int pitch_class_count[12];
    double pitch_class_entropy;  // bits; 0 with no notes
    // control codes: -1 when the header has none (or they could not be recomputed)
    int control_present;    // the header carries S:/B:/E:
    int control_s_match;    // recomputed S == header S
    int control_b_total, control_b_match;  // sections compared, and equal B
    int control_e_total, control_e_match;  // E pairs compared, and equal E
    int control_status;     // CcStatus of the recomputation (0 = ok)
    // novelty
    int novelty_bars, novelty_bars_in_train;
    int novelty_spans, novelty_spans_in_train;
    // length and range
    size_t abc_bytes;
    int pitch_min, pitch_max, pitch_range;  // -1 with no notes
    int distinct_intervals;                  // distinct steps (semitones) between consecutive notes
    // structure: sections end at || |] :| :: or the tune's end; parts are
    // sections told apart by content (a section sharing half its bars with
    // an earlier one is the same part); repeated bars equal an earlier bar
    // of the tune (bars after the first)
    int sections, repeats, parts, bars_repeated;
    // copying (with a training split): the longest run of consecutive bars
    // found verbatim as consecutive bars there (capped at MUSIC_COPY_MAX),
    // and the Jaccard distance of the tune's set of bars to the nearest
    // training tune's (1 when none shares a bar)
    int longest_copied_run;
    double nn_distance;
    // diversity (set by music_set_diversity): the mean bar-level edit
    // distance to the set's other tunes, normalised by the longer tune
    double edit_distance_in_set;
    int set_size;
} TuneMetrics;

// The metrics of music_metrics.def, by index: what each is, and its
// per-tune numerator and denominator.
enum { MK_RATE, MK_POOLED, MK_MEAN };
enum {
#define METRIC(id, label, percent, kind, num, den) MUSIC_METRIC_##id,
#include "music_metrics.def"
#undef METRIC
    MUSIC_NUM_METRICS
};
typedef struct {
    const char *id, *label;
    int percent;  // shown as a percentage
    int kind;     // MK_*
} MusicMetricInfo;
extern const MusicMetricInfo music_metric_info[MUSIC_NUM_METRICS];
void music_metric_values(const TuneMetrics *t, double num[MUSIC_NUM_METRICS], double den[MUSIC_NUM_METRICS]);

// A bar with a known meter and not a bar rest is checked; it is consistent
// when its duration equals the meter's bar, or when it is shorter and sits
// where ABC allows an incomplete bar: the tune's first bar (anacrusis), a bar
// right after or right before a section line (|: :| || |] ::), a volta
// ending, or the tune's last bar.
int music_bar_is_checked(const TuneBar *b);
int music_bar_is_consistent(const TuneBar *b);

// Computes everything but abc2midi (see music_run_abc2midi) and the control
// codes (music_control_adherence). train may be NULL (novelty left at 0).
void music_tune_metrics(const MusicTune *t, size_t abc_bytes, const NoveltyIndex *train,
                        TuneMetrics *m);

// Control-code adherence: recomputes S, B, E from the tune text (header and
// body) and compares with the S:/B:/E: lines of its header.
void music_control_adherence(const char *text, size_t len, TuneMetrics *m);

// Runs abc2midi on the tune text (written to a temporary file in tmp_dir)
// and fills the abc2midi fields. Returns 0, or -1 with the error set when
// abc2midi cannot be run at all (it names the Debian package).
int music_run_abc2midi(const char *text, size_t len, const char *tmp_dir, TuneMetrics *m);

// The structure of a tune (sections, repeats, parts, repeated bars).
void music_tune_structure(const MusicTune *t, TuneMetrics *m);

// The bar-level edit distance of two sequences of bar hashes, divided by
// the longer length (0 identical, 1 nothing in common); 0 for two empty ones.
double music_edit_distance(const uint64_t *a, int na, const uint64_t *b, int nb);

// Shannon entropy in bits of a histogram.
double music_entropy_bits(const int *counts, int n);

// ---------------------------------------------------------------- distributions
// 1-D comparisons of two integer-valued samples (e.g. bars per tune):
// w1 is the Wasserstein-1 (earth mover's) distance; overlap is the area
// shared by the two normalised histograms with unit bins (1 = identical).
typedef struct {
    double mean, std, min, median, max;
    int n;
} MusicStats;

void music_stats(const double *x, int n, MusicStats *out);
double music_wasserstein1(const double *a, int na, const double *b, int nb);
double music_overlap(const double *a, int na, const double *b, int nb);

#endif
